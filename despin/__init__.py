"""despin — restore spun text (article-spinner output) to its original wording.

>>> import despin
>>> despin.restore("The summit assembly comes at a uncommon second of mutual want.")  # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

from .edits import Edit, Restoration

__all__ = ["Despinner", "Edit", "Restoration", "restore"]
__version__ = "0.1.0"

_loaded: dict[Any, Any] = {}  # model name (None: the shipped default) → its Despinner


def __getattr__(name: str) -> Any:
    if name == "Despinner":  # lazy: importing despin must not import torch
        from .despinner import Despinner

        return Despinner
    raise AttributeError(name)


def restore(text: str | list[str], model: str | None = None,
            profile: str | None = None) -> str | list[str]:
    """Restore ``text`` with the shipped default model (or ``model``: a folder or hub name),
    each loaded once and reused; ``profile="accurate"`` for the shipped default's slower, surer
    profile (see ``Despinner.profile``)."""
    from .despinner import Despinner

    if model not in _loaded:
        _loaded[model] = Despinner.from_pretrained(model)
    return _loaded[model].profile(profile).restore(text)
