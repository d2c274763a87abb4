"""Models and tokenizers built from scratch: a SentencePiece vocabulary trained on the pairs
(as a T5 tokenizer) and randomly initialised T5 and Llama models sized for it, for
``training/train.py``'s ``scratch-t5`` and ``scratch-llama`` recipes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .model_input import SPECIAL_SYMBOLS

__all__ = [
    "train_sentencepiece",
    "t5_tokenizer_from_spm",
    "build_t5_from_config",
    "build_llama_from_config",
]


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
