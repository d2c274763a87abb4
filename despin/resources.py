"""Where despin finds its data files and keeps its caches."""
from __future__ import annotations

import glob
import hashlib
import os
import pickle
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parent.parent


def config_dir() -> Path:
    """The ``configs/`` folder (``$DESPIN_CONFIG_DIR`` overrides it)."""
    return Path(os.environ.get("DESPIN_CONFIG_DIR", REPO_ROOT / "configs"))


def resolve(path: str | os.PathLike, base: Path | None = None) -> Path:
    """A path as given if it exists, else relative to ``base`` (default: ``configs/``)."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return (base or config_dir()) / p


def resolve_in(path: str | os.PathLike, folder: Path) -> Path:
    """A path written inside a config file: absolute as it is, else relative to ``folder``
    (the config's own folder, or ``configs/``) where it exists there, else as :func:`resolve`
    finds it. The config's folder comes first, so that the same config reads the same files
    from any working folder."""
    p = Path(path)
    if not p.is_absolute() and (folder / p).exists():
        return folder / p
    return resolve(p)


def config_file(path: str | os.PathLike) -> Path:
    """:func:`resolve` for a file that must exist (a recipe or config YAML); raises
    FileNotFoundError naming both places looked in."""
    found = resolve(path)
    if not found.is_file():
        raise FileNotFoundError(f"no file {path} (looked in the working folder and in "
                                f"{config_dir()})")
    return found


def cache_dir() -> Path:
    """Cache folder: ``$DESPIN_CACHE`` or ``~/.cache/despin``; created on demand."""
    d = Path(os.environ.get("DESPIN_CACHE", Path.home() / ".cache" / "despin"))
    d.mkdir(parents=True, exist_ok=True)
    return d


CACHE_MAX_AGE_DAYS = 30
"""A cache file of a kind not used for this many days is removed when a new one of the same
kind is written (a new version or setting would otherwise leave the old ones for ever)."""


def cached(name: str, key: Any, build: Callable[[], Any]) -> Any:
    """Return ``build()``, memoised on disk under ``name`` for this ``key`` (a repr-able value).

    A file read is marked as used (its modification time); writing a new ``name`` file removes
    the other ``name`` files unused for :data:`CACHE_MAX_AGE_DAYS`. The whole folder
    (:func:`cache_dir`) may be deleted at any time: what it holds is rebuilt on first use."""
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:16]
    path = cache_dir() / f"{name}-{digest}.pkl"
    if path.exists():
        try:
            with path.open("rb") as f:
                value = pickle.load(f)
            try:
                os.utime(path)  # used now: not stale
            except OSError:  # a read-only cache is still a cache
                pass
            return value
        except Exception:  # a truncated cache file is rebuilt, not fatal
            path.unlink(missing_ok=True)
    value = build()
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    _prune(path, name)
    return value


def _prune(kept: Path, name: str) -> None:
    """Remove ``name``'s cache files (other than ``kept``) unused for CACHE_MAX_AGE_DAYS."""
    import time

    oldest = time.time() - CACHE_MAX_AGE_DAYS * 86400
    for other in kept.parent.glob(f"{glob.escape(name)}-*.pkl"):
        if other != kept and other.name[len(name) + 1:-4].isalnum():
            try:
                if other.stat().st_mtime < oldest:
                    other.unlink()
            except OSError:  # another process removed or holds it
                pass


def file_key(path: Path) -> tuple[str, int, int]:
    """A cache key that changes when the file changes."""
    st = path.stat()
    return (str(path), st.st_size, int(st.st_mtime))
