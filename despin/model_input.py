"""The model's input: the candidate-augmented source and how each kind of model encodes a pair.

:func:`build_model_input` writes the source text (the spun sentence, each slot followed by its
best candidates); :func:`encode_pair` turns a (source, target) pair into token ids. Training
(``training/train.py``) and scoring (:class:`despin.scorer.RestorationModel`) both go through
them: one definition of the input format for both sides.

Two kinds of model share everything but the encoding of a pair:

- ``encoder-decoder`` (T5, BART, or a small T5 trained from scratch here): source → encoder,
  target → labels;
- ``decoder-only`` (SmolLM2, any causal LM, optionally with a LoRA adapter):
  ``prompt(source) + " " + target + EOS`` with the loss on the target part only. With
  ``source=None`` the target is scored as plain text after BOS, which is how a pretrained
  language model serves as a plain scorer.
"""
from __future__ import annotations

import re

from .candidates import CandidateIndex
from .lattice import CAND_CLOSE, CAND_OPEN, CAND_SEP, build_slots, format_source

__all__ = [
    "ENCODER_DECODER",
    "DECODER_ONLY",
    "SPECIAL_SYMBOLS",
    "build_model_input",
    "space_marks",
    "prompt",
    "encode_pair",
]

ENCODER_DECODER, DECODER_ONLY = "encoder-decoder", "decoder-only"
# The characters format_source writes around candidates: they must be single tokens, never <unk>.
SPECIAL_SYMBOLS = sorted({c for c in CAND_OPEN + CAND_CLOSE + CAND_SEP + "=;" if not c.isspace()})


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
    a word-internal piece. Applied to every source by :func:`encode_pair`."""
    return _MARKS.sub(r" \1 ", source).strip()


def prompt(source: str) -> str:
    """The decoder-only prompt; the target follows after one space. Used by training and scoring."""
    return f"{PROMPT_PREFIX}{source}{PROMPT_SUFFIX}"


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
