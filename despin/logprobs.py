"""Log-probabilities of batches of encoded pairs, shared by scoring and training: padding them
into tensors (:func:`collate`), the logits that predict their labelled tokens
(:func:`labelled_logits`), each sequence's summed log-probability (:func:`sequence_logprobs`)
and the teacher-forcing loss (:func:`training_loss`).
"""
from __future__ import annotations

from typing import Any, Sequence

from .model_input import ENCODER_DECODER

__all__ = [
    "collate",
    "labelled_logits",
    "sequence_logprobs",
    "training_loss",
    "token_logprobs",
    "keep_logits",
    "forward_params",
]


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
                   **keep_logits(inner, keep)).logits
    logits = logits[:, :-1]
    return logits, labels[:, labels.shape[1] - logits.shape[1]:]


def sequence_logprobs(model, batch: dict[str, Any], kind: str) -> list[float]:
    """Per-sequence summed log-probability of the labelled (``!= -100``) tokens."""
    logits, labels = labelled_logits(model, batch, kind)
    mask = labels != -100
    tok_lp = token_logprobs(logits.float(), labels.masked_fill(~mask, 0))
    return (tok_lp * mask).sum(-1).tolist()


def training_loss(model, batch: dict[str, Any], kind: str):
    """Mean cross-entropy of the labelled tokens (what ``model(**batch).loss`` computes, without
    the output layer over a decoder-only prompt: far less memory and time on long inputs)."""
    import torch

    logits, labels = labelled_logits(model, batch, kind)
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                             labels.reshape(-1), ignore_index=-100)


def token_logprobs(logits, ids):
    """``log P(ids[b, t])`` under ``logits[b, t]`` (float32 logits)."""
    import torch

    return torch.gather(logits, -1, ids.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)


def keep_logits(model, n: int) -> dict[str, int]:
    """``{"logits_to_keep": n}`` when the model's forward takes it (only its last ``n``
    positions then get logits), else ``{}`` (all positions do)."""
    return {"logits_to_keep": n} if "logits_to_keep" in forward_params(model) else {}


def forward_params(model) -> set[str]:
    """The keyword arguments the model's (or a PEFT wrapper's base model's) forward takes."""
    import inspect

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(inner.forward).parameters)
