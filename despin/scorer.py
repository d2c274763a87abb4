"""The restoration model: a seq2seq scorer of ``log P(original | candidate-augmented spun text)``.

The model never generates freely. The lattice search proposes outputs (the input with some
spans replaced by index candidates) and asks :meth:`RestorationModel.score` for their
log-probability given :func:`despin.model_input.build_model_input` of the spun sentence.
Training (``training/train.py``) is ordinary teacher forcing on the same pairs, through the
same :meth:`RestorationModel.encode` (:func:`despin.model_input.encode_pair`) — one definition
of the input format for both sides.

A model is an encoder-decoder or a decoder-only LM (see :mod:`despin.model_input`); a
pretrained language model (SmolLM2-135M or Gemma-3-270m, :data:`despin.packaged.PACKAGED`)
serves as a plain scorer of text. :func:`load_base_model` loads any of them.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

from .dtypes import resolve_dtype
from .logprobs import collate, forward_params, keep_logits, sequence_logprobs, token_logprobs
from .model_input import DECODER_ONLY, ENCODER_DECODER, encode_pair
from .packaged import fix_adapter_base, resolve_model_name

__all__ = ["RestorationModel", "load_base_model", "DESPIN_CONFIG"]

DESPIN_CONFIG = "despin_config.json"  # index spec, top_k, n_show, kind: how inputs are rebuilt


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

    def quantize_output_layer(self) -> bool:
        """Make the output layer (vocabulary × width, most of a small language model's work
        per scored token: Gemma-3-270m's is 262k × 640) an int8 one, for scoring on a CPU in
        float32: ``torch.ao.quantization.quantize_dynamic`` (int8 weights, one scale per
        tensor; activations quantized per call; fbgemm/x86 kernels), in place. The rest of
        the model stays float32, and the logits come out in float32. Measured on the accurate
        profile (100 test pairs, AVX2, session 18): 22 → 34.5 words/s, F0.5 .610 → .613;
        quantizing the layers too cost .03 F0.5.

        Returns whether it was applied: not on a GPU, not in bfloat16, not for a model without
        a linear output layer, and not where this torch lacks ``quantize_dynamic`` (the layer
        then stays float32, with a warning). For inference only: no gradient flows through it."""
        import warnings

        import torch

        head = self.model.get_output_embeddings()
        if (not isinstance(head, torch.nn.Linear) or head.weight.device.type != "cpu"
                or head.weight.dtype != torch.float32):
            return False
        name = next(n for n, m in self.model.named_modules() if m is head)
        try:
            from torch.ao.quantization import quantize_dynamic
        except ImportError:  # pragma: no cover - a torch without the eager-mode API
            warnings.warn("this torch has no torch.ao.quantization.quantize_dynamic: the output "
                          "layer stays float32", RuntimeWarning, stacklevel=2)
            return False
        with warnings.catch_warnings():  # the quantized-tensor API warns that it is deprecated
            warnings.simplefilter("ignore")
            quantize_dynamic(self.model, {name}, dtype=torch.qint8, inplace=True)
        return True

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
                                 use_cache=True, **keep_logits(self.model, keep))
                tok_lp = token_logprobs(pre.logits[:, -keep:-1].float(), full[:, first:])[0]
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
                        got = token_logprobs(logits[:, :-1], ids[:, 1:]) * mask[:, 1:]
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
        kw = "cache" if "cache" in forward_params(self.model) else "past_key_values"
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
                         **keep_logits(self.model, 1))
        first_lp = torch.log_softmax(pre.logits[0, -1].float(), -1)  # predicts target token 0
        scores = []
        for b in range(0, len(group), batch_size):
            idx = group[b:b + batch_size]
            logits, ids, mask = self._continue(_cache_of(pre), n_head,
                                               [feats[i]["input_ids"][n_head:] for i in idx])
            lp = first_lp[ids[:, 0]]
            if ids.shape[1] > 1:
                lp = lp + (token_logprobs(logits[:, :-1], ids[:, 1:]) * mask[:, 1:]).sum(-1)
            scores += lp.tolist()
        return scores

    def __repr__(self) -> str:
        n = sum(p.numel() for p in self.model.parameters())
        return f"RestorationModel(kind={self.kind!r}, params={n / 1e6:.1f}M, device={self.device})"


def _cache_of(output):
    """The key/value cache of a forward pass (``cache`` in transformers 5, else
    ``past_key_values``)."""
    cache = getattr(output, "cache", None)
    return output.past_key_values if cache is None else cache
