"""Train a restoration model: teacher-forced seq2seq on (candidate-augmented spun, original).

    python -m training.train --config configs/train-t5-small.yaml [key=value ...] [--resume [PATH]]
    accelerate launch -m training.train --config configs/train-smollm2-lora.yaml   # GPUs

One script for both kinds of model (see :mod:`despin.model_input`): an encoder-decoder (a T5 built
from scratch with a SentencePiece vocabulary trained here, or any hub/local seq2seq model) or a
decoder-only LM (SmolLM2-135M converted from the installed package, any causal LM, a tiny Llama
from scratch), optionally with LoRA. A recipe is a short YAML file overriding :data:`DEFAULTS`
(nanoGPT style); ``key=value`` arguments override the recipe (``lora.r=8`` for nested keys).

What it writes to ``out``: the final model (or LoRA adapter) + tokenizer + ``despin_config.json``
(index spec, top_k, n_show, kind: what restoration needs to rebuild the inputs), ``train.log``,
``metrics.jsonl``, and ``checkpoint-STEP/`` folders (weights, optimizer, scheduler, step, RNG)
from which ``--resume`` continues. ``--resume PATH`` on a folder without optimizer state (e.g. a
shipped adapter) warm-starts: its weights, a fresh optimizer and schedule.
"""
from __future__ import annotations

import os

# A busy 2-core machine (other jobs running) stalls torch's spinning OpenMP threads: measured
# 325 tokens/s with 2 threads vs ~1,100 with passive waiting. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import contextlib
import hashlib
import json
import logging
import random
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from despin.from_scratch import build_llama_from_config, build_t5_from_config, train_sentencepiece
from despin.logprobs import collate, training_loss
from despin.model_input import DECODER_ONLY, ENCODER_DECODER, build_model_input, encode_pair
from despin.packaged import fix_adapter_base
from despin.resources import REPO_ROOT, config_file, resolve
from despin.scorer import DESPIN_CONFIG, RestorationModel, load_base_model
from training.entry import is_whole

__all__ = ["DEFAULTS", "load_recipe", "default_index_spec", "load_index_spec", "train",
           "main"]

log = logging.getLogger("despin.train")

DEFAULTS: dict[str, Any] = {
    "task": "restoration",     # this loop; "encoder": the spin encoder's (training.encoder)
    # model: a hub name / local folder, "smollm2-135m", "scratch-t5" or "scratch-llama"
    "model": "scratch-t5",
    "kind": None,              # encoder-decoder | decoder-only; None: from the model's config
    # sizes of a from-scratch model (scratch-t5 / scratch-llama) and its SentencePiece vocab
    "d_model": 256, "layers": 4, "heads": 4, "d_ff": 1024, "dropout": 0.1,
    "vocab_size": 8000, "tokenizer_sentences": 300_000,
    "lora": None,              # {r: 16, alpha: 32, dropout: 0.05, target_modules: all-linear}
    # data and inputs
    "data": "data/pairs",      # a DatasetDict folder from `python -m training.pairs`
    "out": "runs/model",
    "index": None,             # synonym sources of the candidate index (a list, or a YAML such as
                               # index.yaml: load_index_spec); None: configs/spinner.yaml
    "top_k": 8, "n_show": 3,   # candidates looked up per span / shown in the model input
    "freq_power": None,        # the index's frequency weighting; None: spinner.yaml's
    "max_source_len": 384, "max_target_len": 128,
    "max_train_examples": "auto",  # auto: what max_steps can consume; null: all
    "num_proc": "auto",        # processes building the inputs (datasets.map)
    # optimisation
    "batch_size": 16, "grad_accum": 1, "lr": 1.0e-3, "weight_decay": 0.01,
    "warmup_steps": 100, "schedule": "cosine", "min_lr_ratio": 0.1, "grad_clip": 1.0,
    "max_steps": 1000, "max_minutes": None,   # time budget: stop cleanly, evaluate, save
    "group_by_length": True,   # batches of similar lengths: less padding (much faster on CPU)
    # evaluation, checkpoints, logging
    "eval_every": 250, "eval_samples": 200, "eval_batch_size": 32,
    "eval_restore": 16,        # validation sentences restored for edit F0.5 (0: off)
    "eval_restorer": "training.train:despinner_restorer",
    "save_every": 500, "keep_checkpoints": 2, "log_every": 10,
    "seed": 0, "bf16": "auto", "num_workers": 0, "progress": True,
    "threads": None,           # torch CPU threads (1 for tiny models: no contention stalls)
}


# -- recipes -----------------------------------------------------------------------------------
def _coerce(key: str, value: Any, defaults: dict[str, Any]) -> Any:
    """YAML reads ``1e-3`` as a string: convert where the default is a number."""
    default = defaults.get(key)
    if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            return float(value) if isinstance(default, float) or not value.lstrip("-").isdigit() \
                else int(value)
        except ValueError:
            return value
    return value


# settings that must be numbers ≥ 1, and numbers ≥ 0 (where a recipe has them); None is
# allowed only where the default is None (max_minutes, threads, freq_power)
_AT_LEAST_ONE = {"batch_size", "grad_accum", "max_steps", "top_k", "n_show", "max_length",
                 "max_source_len", "max_target_len", "eval_batch_size", "log_every", "proj",
                 "train_layers", "d_model", "layers", "heads", "d_ff", "vocab_size", "threads",
                 "tokenizer_sentences", "eval_sentences", "eval_samples"}
_AT_LEAST_ZERO = {"warmup_steps", "eval_every", "save_every", "keep_checkpoints", "weight_decay",
                  "grad_clip", "spun_weight", "min_lr_ratio", "eval_restore", "num_workers",
                  "max_minutes", "dropout", "seed"}
_ABOVE_ZERO = {"lr", "head_lr"}
TASKS = ("restoration", "encoder")


def check_recipe(cfg: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Raise ValueError naming the first setting of ``cfg`` whose value is not what its
    default's type and range allow: a whole number where the default is one, a number where
    it is a float, ≥ 1 / ≥ 0 / > 0 where a count, step or rate must be, and a known ``task``."""
    if cfg.get("task", "restoration") not in TASKS:
        raise ValueError(f"unknown task {cfg['task']!r} (one of {list(TASKS)})")
    for key, value in cfg.items():
        default = defaults.get(key)
        numeric = key in _AT_LEAST_ONE | _AT_LEAST_ZERO | _ABOVE_ZERO or (
            isinstance(default, (int, float)) and not isinstance(default, bool))
        if not numeric or (value is None and default is None):
            continue
        whole = is_whole(default)
        if not (is_whole(value) or (not whole and isinstance(value, float))):
            raise ValueError(f"setting {key}: expected {'a whole number' if whole else 'a number'}"
                             f", got {value!r}")
        low = (1 if key in _AT_LEAST_ONE else 0 if key in _AT_LEAST_ZERO else None)
        if (low is not None and value < low) or (key in _ABOVE_ZERO and value <= 0):
            raise ValueError(f"setting {key}: must be {'above 0' if low is None else f'≥ {low}'}"
                             f", got {value!r}")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["lr=3e-4", "lora.r=8"]`` → ``{"lr": 0.0003, "lora": {"r": 8}}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not key=value")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw != "" else None
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def load_recipe(path: str | os.PathLike | None, overrides: dict[str, Any] | None = None,
                defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """``defaults`` (:data:`DEFAULTS`) ← the recipe YAML (keys at top level or under
    ``train:``) ← overrides; an unknown key, or a value its setting does not allow
    (:func:`check_recipe`), raises ValueError."""
    defaults = DEFAULTS if defaults is None else defaults
    cfg = dict(defaults)
    layers = []
    if path:
        data = yaml.safe_load(config_file(path).read_text()) or {}
        layers.append(data.get("train", data))
    layers.append(overrides or {})
    for layer in layers:
        unknown = set(layer) - set(defaults)
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)} "
                             f"(known: {sorted(defaults)})")
        for k, v in layer.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k] = {**cfg[k], **v}
            else:
                cfg[k] = _coerce(k, v, defaults)
    check_recipe(cfg, defaults)
    return cfg


def default_index_spec() -> list[dict[str, Any]]:
    """The ``sources`` of ``configs/spinner.yaml``: the index inverts what the spinner uses."""
    from despin.synonyms import spinner_settings

    return list(spinner_settings()["sources"])


def load_index_spec(value: str | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A recipe's ``index``: None → :func:`default_index_spec`; a list of source specs as
    given; a YAML path (relative paths resolve against ``configs/``, e.g. ``index.yaml``) →
    its ``sources``, where an entry ``{include: SPINNER_YAML}`` stands for that spinner's
    sources (their paths made relative to ``configs/``) and every other entry is marked
    ``index_only: true`` (not the content-farm spinner's: see
    :func:`despin.synonyms.spinner_settings`). Raises FileNotFoundError for a missing file,
    ValueError for a file without ``sources``."""
    import yaml

    from despin.resources import config_dir, resolve
    from despin.synonyms import spinner_settings

    if value is None:
        return default_index_spec()
    if not isinstance(value, str):
        return [dict(s) for s in value]
    path = resolve(value)
    if not path.exists():
        raise FileNotFoundError(f"index config {value!r} not found (looked at {path})")
    data = yaml.safe_load(path.read_text()) or {}
    if not data.get("sources"):
        raise ValueError(f"{path}: expected a `sources:` list of synonym sources")
    out: list[dict[str, Any]] = []
    for spec in data["sources"]:
        if "include" in spec:
            inc = resolve(spec["include"], path.parent)
            for s in spinner_settings(inc)["sources"]:
                s = dict(s)
                if "path" in s and not Path(s["path"]).is_absolute():
                    s["path"] = str(Path(os.path.relpath(resolve(s["path"], inc.parent),
                                                         config_dir())))
                out.append(s)
        else:
            out.append({**spec, "index_only": spec.get("index_only", True)})
    return out


# -- data --------------------------------------------------------------------------------------
class _Encoder:
    """``datasets.map`` function: spun → model input (index lookups) → token ids.

    Picklable for ``num_proc``: the index is rebuilt lazily in each worker (from the on-disk
    cache, ~2 s) instead of being pickled across.
    """

    def __init__(self, tokenizer, kind, index_spec, freq_power, top_k, n_show, max_source_len,
                 max_target_len):
        self.tokenizer, self.kind, self.index_spec = tokenizer, kind, index_spec
        self.freq_power = freq_power
        self.top_k, self.n_show = top_k, n_show
        self.max_source_len, self.max_target_len = max_source_len, max_target_len
        self._index = None

    def __getstate__(self):
        return {**self.__dict__, "_index": None}

    @property
    def index(self):
        if self._index is None and self.n_show > 0:
            from despin.candidates import CandidateIndex

            self._index = CandidateIndex.from_config(self.index_spec, self.freq_power)
        return self._index

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        out: dict[str, list] = {"input_ids": [], "labels": [], "n_tokens": []}
        for spun, original in zip(batch["spun"], batch["original"]):
            source = build_model_input(spun, self.index, self.top_k, self.n_show)
            enc = encode_pair(self.tokenizer, self.kind, source, original, self.max_source_len,
                              self.max_target_len)
            out["input_ids"].append(enc["input_ids"])
            out["labels"].append(enc["labels"])
            out["n_tokens"].append(len(enc["input_ids"]) + (
                len(enc["labels"]) if self.kind == ENCODER_DECODER else 0))
        return out


def _tokenizer_digest(tok) -> str:
    try:
        text = tok.backend_tokenizer.to_str()
    except Exception:  # a slow tokenizer: its vocabulary stands for it
        text = json.dumps(sorted(tok.get_vocab().items()))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _dataset_digest(ds) -> str:
    return getattr(ds, "_fingerprint", None) or str(len(ds))


def prepare_data(cfg: dict[str, Any], tok, kind: str, index_spec, is_main: bool):
    """(train, validation) tokenised datasets, saved under ``out/tokenized-SPLIT-KEY``, reused."""
    from datasets import load_from_disk

    raw = load_from_disk(str(resolve(cfg["data"], REPO_ROOT)))
    if "train" not in raw:
        raise ValueError(f"{cfg['data']}: no 'train' split")
    train = raw["train"].shuffle(seed=cfg["seed"])
    need = cfg["max_train_examples"]
    if need == "auto":
        import torch

        world = int(os.environ.get("WORLD_SIZE", 1)) if torch.cuda.is_available() else 1
        need = cfg["max_steps"] * cfg["batch_size"] * cfg["grad_accum"] * world
    if need and need < len(train):
        train = train.select(range(int(need)))
    val_split = "validation" if "validation" in raw else None
    val = raw[val_split].shuffle(seed=cfg["seed"]) if val_split else raw["train"].select([])
    val = val.select(range(min(len(val), cfg["eval_samples"])))
    common = [cfg["seed"], index_spec, cfg["freq_power"], cfg["top_k"], cfg["n_show"],
              cfg["max_source_len"], cfg["max_target_len"], kind, _tokenizer_digest(tok)]
    encoder = _Encoder(tok, kind, index_spec, cfg["freq_power"], cfg["top_k"], cfg["n_show"],
                       cfg["max_source_len"], cfg["max_target_len"])
    num_proc = cfg["num_proc"]
    if num_proc == "auto":  # ~5 ms per sentence with a warm lookup cache: fork only when it pays
        num_proc = min(os.cpu_count() or 1, 8) if len(train) > 20_000 else None
    out = []
    # train and validation are cached apart: changing eval_samples does not rebuild train
    for name, ds, n_proc in (("train", train, num_proc), ("validation", val, None)):
        key = hashlib.sha1(json.dumps([
            name, str(resolve(cfg["data"], REPO_ROOT).resolve()), _dataset_digest(raw["train"]),
            _dataset_digest(raw[val_split]) if val_split else "", len(ds), *common,
        ], sort_keys=True, default=str).encode()).hexdigest()[:12]
        folder = Path(cfg["out"]) / f"tokenized-{name}-{key}"
        if not (folder / "dataset_info.json").exists():
            if not is_main:
                raise RuntimeError("tokenised data missing on a non-main process")
            t0 = time.time()
            tmp = Path(cfg["out"]) / f".tokenizing-{name}-{key}"
            tmp.mkdir(parents=True, exist_ok=True)
            done = ds.map(encoder, batched=True, batch_size=256, num_proc=n_proc or None,
                          remove_columns=[c for c in ds.column_names
                                          if name == "train" or c not in ("spun", "original")],
                          cache_file_name=str(tmp / f"{name}.arrow"), new_fingerprint=key,
                          desc=f"building {name} inputs")
            done.save_to_disk(str(folder))
            shutil.rmtree(tmp, ignore_errors=True)
            n_tok = sum(done["n_tokens"])
            log.info("%s inputs: %d examples, %.1f tokens each, built in %.0f s -> %s", name,
                     len(done), n_tok / max(1, len(done)), time.time() - t0, folder)
        out.append(load_from_disk(str(folder)))
    return out[0], out[1]


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int,
                  group_by_length: bool) -> list[list[int]]:
    """The micro-batches of one epoch: a seeded shuffle; with ``group_by_length``, sorted by
    length inside windows of 64 batches (little padding) and the batch order shuffled again."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        window = batch_size * 64
        order = [i for w in range(0, len(order), window)
                 for i in sorted(order[w:w + window], key=lambda j: -lengths[j])]
    batches = [order[b:b + batch_size] for b in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


# -- model -------------------------------------------------------------------------------------
def _is_checkpoint(folder: Path) -> bool:
    return (folder / "trainer_state.pt").exists()


def latest_checkpoint(out: Path) -> Path | None:
    found = [(int(m.group(1)), p) for p in out.glob("checkpoint-*")
             if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and _is_checkpoint(p)]
    return max(found)[1] if found else None


def build_model(cfg: dict[str, Any], init_from: Path | None, train_texts):
    """(model, tokenizer, kind, base_name) — fresh, or with the weights of ``init_from``."""
    import torch
    from transformers import AutoTokenizer

    name = str(cfg["model"])
    lora = cfg["lora"]
    if init_from is not None and not (init_from / "adapter_config.json").exists():
        # a full model folder (scratch or fine-tuned): its own config, weights and tokenizer
        model, tok, kind = load_base_model(str(init_from), cfg["kind"], torch.float32)
        if lora:
            raise ValueError(f"{init_from} holds a full model but the recipe asks for LoRA")
        return model, tok, kind, name
    if name in ("scratch-t5", "scratch-llama"):
        tok_dir = Path(cfg["out"]) / "tokenizer"
        if (tok_dir / "tokenizer.json").exists():
            tok = AutoTokenizer.from_pretrained(str(tok_dir))
        else:
            log.info("training a SentencePiece vocabulary of %d on %d texts", cfg["vocab_size"],
                     len(train_texts))
            tok = train_sentencepiece(train_texts, tok_dir, cfg["vocab_size"], seed=cfg["seed"])
        sizes = {k: cfg[k] for k in ("d_model", "layers", "heads", "d_ff")}
        if name == "scratch-t5":
            model, kind = build_t5_from_config(tok, dropout=cfg["dropout"], **sizes), ENCODER_DECODER
        else:
            model, kind = build_llama_from_config(tok, **sizes), DECODER_ONLY
    else:
        model, tok, kind = load_base_model(name, cfg["kind"], torch.float32)
    if lora:
        from peft import LoraConfig, PeftModel, TaskType, get_peft_model

        if init_from is not None:  # an adapter (checkpoint or shipped): continue training it
            model = PeftModel.from_pretrained(model, str(init_from), is_trainable=True)
        else:
            model = get_peft_model(model, LoraConfig(
                r=int(lora.get("r", 16)), lora_alpha=int(lora.get("alpha", 2 * lora.get("r", 16))),
                lora_dropout=float(lora.get("dropout", 0.05)),
                target_modules=lora.get("target_modules", "all-linear"),
                task_type=TaskType.SEQ_2_SEQ_LM if kind == ENCODER_DECODER else TaskType.CAUSAL_LM))
    elif init_from is not None:
        raise ValueError(f"{init_from} holds a LoRA adapter but the recipe has no `lora:`")
    return model, tok, kind, name


def save_model(model, tok, folder: Path, despin_config: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    fix_adapter_base(folder)
    (folder / DESPIN_CONFIG).write_text(json.dumps(despin_config, indent=2, default=str))


# -- evaluation --------------------------------------------------------------------------------
def validation_loss(model, val, pad_id: int, kind: str, batch_size: int, device, autocast
                    ) -> float:
    """Mean per-token negative log-likelihood of the validation targets."""
    import torch

    from despin.logprobs import sequence_logprobs

    if len(val) == 0:
        return float("nan")
    was = model.training
    model.eval()
    total, count = 0.0, 0
    feats = val.select_columns(["input_ids", "labels"])
    with torch.no_grad(), autocast():
        for b in range(0, len(feats), batch_size):
            batch = collate([feats[i] for i in range(b, min(b + batch_size, len(feats)))], pad_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            total -= sum(sequence_logprobs(model, batch, kind))
            labels = batch["labels"][:, 1:] if kind == DECODER_ONLY else batch["labels"]
            count += int((labels != -100).sum())
    model.train(was)
    return total / max(1, count)


def _restorer_factory(spec: str):
    """The restoration entry point named by ``eval_restorer``, or (None, why)."""
    import importlib

    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr), None
    except (ImportError, AttributeError) as e:
        return None, f"{spec} not importable ({e.__class__.__name__}: {e})"


def despinner_restorer(model: RestorationModel, index, top_k: int, n_show: int):
    """The default ``eval_restorer``: :class:`despin.despinner.Despinner` (lattice search, default
    settings) scored by the model being trained alone, on the training index."""
    from despin.despinner import Despinner, ScorerSpec
    from despin.search import SearchSettings

    d = Despinner(model.despin_config["index"], [ScorerSpec("<training>", 1.0, True)],
                  SearchSettings(n_show=n_show), freq_power=model.despin_config["freq_power"],
                  device=str(model.device), index=index, models=[model])
    return d.restore


def restoration_metrics(model, tok, kind, val, cfg, index_spec) -> dict[str, float] | str:
    """Edit F0.5 etc. on ``eval_restore`` validation sentences, via ``eval_restorer``:
    ``factory(RestorationModel, index, top_k=, n_show=) -> callable(list[str]) -> list[str]``."""
    factory, why = _restorer_factory(cfg["eval_restorer"])
    if factory is None:
        return why
    from despin.candidates import CandidateIndex
    from training.evaluate import score

    rows = val.select(range(min(len(val), cfg["eval_restore"])))
    spun, original = rows["spun"], rows["original"]
    rm = RestorationModel(model, tok, kind, {"index": index_spec, "top_k": cfg["top_k"],
                                             "n_show": cfg["n_show"], "kind": kind,
                                             "freq_power": cfg["freq_power"]})
    was = model.training
    try:
        restorer = factory(rm, CandidateIndex.from_config(index_spec, cfg["freq_power"]),
                           top_k=cfg["top_k"], n_show=cfg["n_show"])
        predictions = restorer(list(spun))
    except Exception as e:  # the search is another module's: never lose a training run to it
        return f"{cfg['eval_restorer']} failed ({e.__class__.__name__}: {e})"
    finally:
        model.train(was)
    m = score(spun, predictions, original)
    return {k: m[k] for k in ("f05", "precision", "recall", "clean_changed")}


# -- the loop ----------------------------------------------------------------------------------
def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _setup_logging(out: Path, is_main: bool) -> None:
    log.setLevel(logging.INFO if is_main else logging.WARNING)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    if is_main:
        fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
        fh = logging.FileHandler(out / "train.log")
        sh = logging.StreamHandler(sys.stderr)
        for h in (fh, sh):
            h.setFormatter(fmt)
            log.addHandler(h)


def with_threads(threads: int | None, run, *args):
    """``run(*args)`` with ``threads`` torch CPU threads (None: as they are), restored after."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return run(*args)
    finally:
        torch.set_num_threads(before)


def resume_from(out: Path, resume: str | bool | None) -> Path | None:
    """What ``--resume`` names: the latest checkpoint in ``out`` (``True``), a folder (a
    path), or nothing. Raises FileNotFoundError for a path that does not exist, and
    FileExistsError for a fresh run (no ``--resume``) into an ``out`` that holds an earlier
    run's checkpoints: their steps would outnumber the new run's, so pruning would delete the
    new checkpoints and a later ``--resume`` would pick up the old run."""
    if not resume:
        earlier = latest_checkpoint(out)
        if earlier is not None:
            raise FileExistsError(
                f"{out} holds an earlier run's checkpoints ({earlier.name}): continue it with "
                f"--resume, or write this run elsewhere (out=...) or delete the folder first")
        return None
    init_from = latest_checkpoint(out) if resume is True else Path(resume)
    if init_from is None:
        log.info("--resume: no checkpoint in %s, starting fresh", out)
    elif not init_from.exists():
        raise FileNotFoundError(f"--resume {init_from}: no such folder")
    return init_from


def load_trainer_state(folder: Path, optimizer, scheduler, state: dict[str, Any]) -> None:
    """Restore the optimizer, the schedule, ``state`` (step, ...) and the RNGs of a checkpoint."""
    import torch

    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=False))
    saved = torch.load(folder / "trainer_state.pt", weights_only=False)
    state.update(saved["state"])
    _set_rng_state(saved["rng"])
    log.info("resumed at step %d", state["step"])


def save_trainer_state(folder: Path, optimizer, scheduler, state: dict[str, Any],
                       keep: int | None) -> None:
    """Write the optimizer, schedule, ``state`` and RNGs into checkpoint ``folder`` and delete
    all but the ``keep`` newest checkpoints beside it (0 or None: keep all)."""
    import torch

    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    torch.save(scheduler.state_dict(), folder / "scheduler.pt")
    torch.save({"state": state, "rng": _rng_state()}, folder / "trainer_state.pt")
    old = sorted((int(p.name.split("-")[1]), p) for p in folder.parent.glob("checkpoint-*")
                 if p.name.split("-")[1].isdigit())
    for _, p in old[:-keep] if keep else []:
        shutil.rmtree(p, ignore_errors=True)
    log.info("saved %s", folder)


def train(cfg: dict[str, Any], resume: str | bool | None = None) -> Path:
    """Run the recipe ``cfg`` (see :data:`DEFAULTS`); returns the output folder."""
    return with_threads(cfg["threads"], _train, cfg, resume)


def _train(cfg: dict[str, Any], resume: str | bool | None) -> Path:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    use_bf16 = cfg["bf16"] is True or (cfg["bf16"] == "auto" and torch.cuda.is_available())
    accelerator = Accelerator(mixed_precision="bf16" if use_bf16 else "no")
    is_main = accelerator.is_main_process
    out = Path(cfg["out"])
    out.mkdir(parents=True, exist_ok=True)
    _setup_logging(out, is_main)
    set_seed(cfg["seed"])
    index_spec = load_index_spec(cfg["index"])
    if cfg["freq_power"] is None:
        from despin.synonyms import DEFAULT_FREQ_POWER

        cfg["freq_power"] = DEFAULT_FREQ_POWER

    # what to start from: a checkpoint (full state), a model/adapter folder (weights), nothing
    init_from = resume_from(out, resume)
    full_resume = init_from is not None and _is_checkpoint(init_from)

    train_texts = None
    if cfg["model"] in ("scratch-t5", "scratch-llama") and init_from is None and \
            not (out / "tokenizer" / "tokenizer.json").exists():
        from datasets import load_from_disk

        ds = load_from_disk(str(resolve(cfg["data"], REPO_ROOT)))["train"]
        ds = ds.shuffle(seed=cfg["seed"]).select(range(min(len(ds), cfg["tokenizer_sentences"])))
        train_texts = list(ds["original"]) + list(ds["spun"])
    with accelerator.main_process_first():
        model, tok, kind, base_name = build_model(cfg, init_from, train_texts)
    n_params = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("model %s (%s): %.1fM parameters, %.2fM trained; %s", base_name, kind, n_params / 1e6,
             n_train / 1e6, "resuming from " + str(init_from) if init_from else "fresh")
    despin_config = {"kind": kind, "index": index_spec, "freq_power": cfg["freq_power"],
                     "top_k": cfg["top_k"],
                     "n_show": cfg["n_show"], "max_source_len": cfg["max_source_len"],
                     "max_target_len": cfg["max_target_len"], "base_model": base_name,
                     "recipe": cfg}

    with accelerator.main_process_first():
        train_ds, val_ds = prepare_data(cfg, tok, kind, index_spec, is_main)
    lengths = train_ds["n_tokens"]
    train_feats = train_ds.select_columns(["input_ids", "labels"])

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "norm" in n.lower() else decay).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg["lr"])
    if cfg["schedule"] == "cosine":
        from transformers import get_cosine_with_min_lr_schedule_with_warmup as _cos

        scheduler = _cos(optimizer, cfg["warmup_steps"], cfg["max_steps"],
                         min_lr_rate=cfg["min_lr_ratio"])
    else:
        scheduler = get_scheduler(cfg["schedule"], optimizer, num_warmup_steps=cfg["warmup_steps"],
                                  num_training_steps=cfg["max_steps"])
    state = {"step": 0, "tokens": 0, "elapsed": 0.0}
    if full_resume:
        load_trainer_state(init_from, optimizer, scheduler, state)
    model, optimizer = accelerator.prepare(model, optimizer)
    device = accelerator.device
    pad_id = tok.pad_token_id

    def make_loader(epoch: int, skip: int):
        from torch.utils.data import DataLoader

        batches = epoch_batches(lengths, cfg["batch_size"], cfg["seed"], epoch,
                                cfg["group_by_length"])
        dl = DataLoader(train_feats, batch_sampler=batches, num_workers=cfg["num_workers"],
                        collate_fn=lambda f: collate(f, pad_id))
        dl = accelerator.prepare_data_loader(dl)
        return (accelerator.skip_first_batches(dl, skip) if skip else dl), len(dl)

    def checkpoint(step: int) -> None:
        accelerator.wait_for_everyone()
        state["elapsed"] = elapsed_before + time.time() - t_start  # seconds over all runs
        if is_main:
            folder = out / f"checkpoint-{step}"
            save_model(accelerator.unwrap_model(model), tok, folder, despin_config)
            save_trainer_state(folder, optimizer, scheduler, state, cfg["keep_checkpoints"])
        accelerator.wait_for_everyone()

    metrics_file = out / "metrics.jsonl"
    if is_main and not full_resume:  # a fresh run's metrics, not appended to another's
        metrics_file.unlink(missing_ok=True)
    restore_note = [False]

    def evaluate(step: int) -> dict[str, Any]:
        accelerator.wait_for_everyone()
        result: dict[str, Any] = {"step": step}
        if is_main:
            inner = accelerator.unwrap_model(model)
            result["val_loss"] = validation_loss(inner, val_ds, pad_id, kind,
                                                 cfg["eval_batch_size"], device,
                                                 accelerator.autocast)
            if cfg["eval_restore"] and len(val_ds):
                m = restoration_metrics(inner, tok, kind, val_ds, cfg, index_spec)
                if isinstance(m, dict):
                    result.update({f"val_{k}": v for k, v in m.items()})
                elif not restore_note[0]:
                    log.info("edit F0.5 not measured: %s; validation loss only", m)
                    restore_note[0] = True
            log.info("eval step %d: %s", step, " ".join(
                f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
                if k != "step"))
            with metrics_file.open("a") as f:
                f.write(json.dumps({"type": "eval", **result}) + "\n")
        accelerator.wait_for_everyone()
        return result

    log.info("training: %d examples, batch %d x %d accum x %d processes, %d steps, lr %g (%s)",
             len(train_ds), cfg["batch_size"], cfg["grad_accum"], accelerator.num_processes,
             cfg["max_steps"], cfg["lr"], cfg["schedule"])
    micro = state["step"] * cfg["grad_accum"]  # micro-batches consumed so far (per process)
    _, per_epoch = make_loader(0, 0)
    if per_epoch == 0:
        raise ValueError("no training batches")
    epoch, skip = divmod(micro, per_epoch)
    loader, _ = make_loader(epoch, skip)
    it = iter(loader)
    bar = tqdm(total=cfg["max_steps"], initial=state["step"], disable=not (is_main and cfg["progress"]),
               dynamic_ncols=True, desc="train")
    model.train()
    elapsed_before, t_start = state["elapsed"], time.time()
    t_window, tok_window, loss_ema = time.time(), 0, None
    stop_reason = "max_steps"
    interrupted = False
    try:
        while state["step"] < cfg["max_steps"]:
            if cfg["max_minutes"] and (time.time() - t_start) / 60 >= cfg["max_minutes"]:
                stop_reason = f"time budget of {cfg['max_minutes']} min"
                break
            step_loss = 0.0
            for a in range(cfg["grad_accum"]):
                try:
                    batch = next(it)
                except StopIteration:
                    epoch += 1
                    loader, _ = make_loader(epoch, 0)
                    it = iter(loader)
                    batch = next(it)
                last = a == cfg["grad_accum"] - 1
                ctx = contextlib.nullcontext() if last else accelerator.no_sync(model)
                with ctx:
                    loss = training_loss(model, batch, kind)
                    accelerator.backward(loss / cfg["grad_accum"])
                step_loss += loss.item() / cfg["grad_accum"]
                n_tok = int(batch["attention_mask"].sum()) + (
                    int((batch["labels"] != -100).sum()) if kind == ENCODER_DECODER else 0)
                tok_window += n_tok * accelerator.num_processes
                state["tokens"] += n_tok * accelerator.num_processes
            if cfg["grad_clip"]:
                accelerator.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state["step"] += 1
            loss_ema = step_loss if loss_ema is None else 0.9 * loss_ema + 0.1 * step_loss
            step = state["step"]
            if step % cfg["log_every"] == 0 or step == cfg["max_steps"]:
                dt = time.time() - t_window
                tps = tok_window / max(dt, 1e-9)
                lr = scheduler.get_last_lr()[0]
                bar.set_postfix(loss=f"{loss_ema:.3f}", lr=f"{lr:.2e}", tok_s=f"{tps:.0f}")
                if is_main:
                    with metrics_file.open("a") as f:
                        f.write(json.dumps({"type": "train", "step": step, "loss": step_loss,
                                            "loss_ema": loss_ema, "lr": lr, "tokens_per_s": tps,
                                            "epoch": epoch}) + "\n")
                    log.debug("step %d loss %.4f", step, step_loss)
                t_window, tok_window = time.time(), 0
            bar.update(1)
            if cfg["eval_every"] and step % cfg["eval_every"] == 0 and step < cfg["max_steps"]:
                evaluate(step)
                model.train()
            if cfg["save_every"] and step % cfg["save_every"] == 0 and step < cfg["max_steps"]:
                checkpoint(step)
    except KeyboardInterrupt:
        stop_reason, interrupted = "interrupted", True
    bar.close()
    wall = time.time() - t_start
    log.info("stopped at step %d (%s) after %.1f min this run", state["step"], stop_reason, wall / 60)
    checkpoint(state["step"])
    if not interrupted:
        evaluate(state["step"])
    if is_main:
        despin_config["steps"] = state["step"]
        despin_config["tokens"] = state["tokens"]
        save_model(accelerator.unwrap_model(model), tok, out, despin_config)
        log.info("wrote %s", out)
    accelerator.wait_for_everyone()
    return out


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=None, help="recipe YAML (relative: configs/)")
    ap.add_argument("--resume", nargs="?", const=True, default=None, metavar="PATH",
                    help="continue from the latest checkpoint in `out` (or from PATH: a "
                         "checkpoint, or a model/adapter folder to warm-start from)")
    ap.add_argument("overrides", nargs="*", help="key=value settings over the recipe")
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.overrides)
    if _task(args.config, overrides) == "encoder":  # the spin encoder's own loop
        from training import encoder

        return encoder.train(encoder.load_recipe(args.config, overrides), resume=args.resume)
    cfg = load_recipe(args.config, overrides)
    return train(cfg, resume=args.resume)


def _task(path: str | None, overrides: dict[str, Any]) -> str:
    """A recipe's ``task``: ``"restoration"`` (this module's seq2seq loop, the default) or
    ``"encoder"`` (:mod:`training.encoder`)."""
    data = (yaml.safe_load(config_file(path).read_text()) or {}) if path else {}
    return overrides.get("task", data.get("train", data).get("task", "restoration"))


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.train")
