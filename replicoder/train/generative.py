"""Fit generative mode: LoRA instruction tuning of a causal LM to write the label codes
(format: replicoder.models.generative); loss only on the answer tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replicoder.labels.codebook import Codebook
from replicoder.metrics.labelsets import headline
from replicoder.models import quant
from replicoder.models.base import BaseModel, load_causal_lm, load_tokenizer
from replicoder.models.fastpath import (
    causal_attention,
    host_batch,
    needs_padding_mask,
    on_device,
    skip_input_casts,
)
from replicoder.models.generative import GenerativeScorer, instruction, max_answer_tokens
from replicoder.models.runtime import autocast, length_batches, to_device, train_dtype
from replicoder.progress import Progress
from replicoder.train import loop
from replicoder.train.config import TrainConfig
from replicoder.train.data import Example

__all__ = ["Outcome", "answer_loss", "fit"]


@dataclass
class Outcome:
    scorer: GenerativeScorer
    validation: dict[str, float]
    result: loop.LoopResult


def fit(base: BaseModel, book: Codebook, config: TrainConfig, train: list[Example],
        validation: list[Example], workdir: Path, device: str, bf16: bool, *,
        progress: Progress | None, stop_after: int | None) -> Outcome:
    """Instruction-tune on ``train``; early-stop on the validation loss."""
    import torch

    tok = load_tokenizer(base)
    torch.manual_seed(config.seed)
    causal = load_causal_lm(base, device=device, dtype=train_dtype(device, bf16, config.base_dtype),
                            quantize=config.quantize,
                            quantization=quant.record(config.quantize, bf16))
    model = config.with_lora(causal, "CAUSAL_LM")
    if bf16:  # run under autocast: peft's cast of each adapter input is undone at once
        skip_input_casts(model)
    multiple = loop.COMPILE_BUCKET if config.compile else 1
    scorer = GenerativeScorer(model, tok, book, instruction(book), config.length,
                              max_answer_tokens(tok, book), device, bf16)
    seqs = [_sequence(scorer, e) for e in train]
    val_seqs = [_sequence(scorer, e) for e in validation]

    def batch_loss(items: list[tuple[list[int], list[int]]]) -> Any:
        return answer_loss(model, items, tok.pad_token_id, device, bf16, multiple)

    def step_loss(batch: list[int]) -> Any:
        return batch_loss([seqs[i] for i in batch])

    def evaluate() -> tuple[float, dict[str, float]]:
        total: Any = 0.0
        with torch.inference_mode():
            batches = length_batches([len(s[0]) for s in val_seqs], config.batch_size)
            for b in batches:  # summed on the device in float64 (as Python did), read once
                total = total + batch_loss([val_seqs[i] for i in b]).double() * len(b)
        loss = float(total) / len(val_seqs)
        return -loss, {"val_loss": loss}  # lower loss is better: select on its negative

    with causal_attention(model):  # right-padded batches; generation below pads left
        result = loop.run(model, [len(s[0]) for s in seqs], step_loss, evaluate, config,
                          workdir, progress=progress, stop_after=stop_after,
                          low_precision=bf16 and not config.quantize)
    pred, _, _ = scorer.predict([e.text for e in validation], config.batch_size)
    metrics = headline([e.labels for e in validation], pred, book.values)
    metrics["validation_loss"] = -result.best_score
    return Outcome(scorer, metrics, result)


def _sequence(scorer: GenerativeScorer, ex: Example) -> tuple[list[int], list[int]]:
    prompt = scorer.prompt_ids(ex.text)
    target = scorer.answer_ids(ex.labels)
    return prompt + target, [-100] * len(prompt) + target


def answer_loss(model: Any, items: Sequence[tuple[list[int], list[int]]], pad: int,
                device: str, bf16: bool, multiple: int = 1) -> Any:
    """Mean cross-entropy over the answer tokens of (ids, labels) pairs.

    Sequences are padded on the right, so every query row attends to at least its own
    token (left padding leaves pad rows attending to nothing, which gives NaN gradients
    in bf16 with some cuda attention kernels). Only the hidden states that predict an
    answer token go through the vocabulary projection: the largest matmul and the
    softmax are spared for the prompt tokens (about half of a bf16 CPU training step
    for a 135M model with a 49k vocabulary).
    """
    import torch.nn.functional as F

    ids = [i for i, _ in items]
    batch = host_batch(ids, pad, mask=needs_padding_mask(model), device=device,
                       multiple=multiple)
    rows: list[int] = []
    cols: list[int] = []
    targets: list[int] = []
    for r, (_, lab) in enumerate(items):
        for t in range(1, len(lab)):
            if lab[t] != -100:  # the hidden state at t - 1 predicts token t
                rows.append(r)
                cols.append(t - 1)
                targets.append(lab[t])
    # built on the host, moved once with the batch (non-blocking from pinned memory)
    picks = host_batch([rows, cols, targets], 0, mask=False, device=device)["input_ids"]
    picks = to_device(picks, device)
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    with autocast(device, bf16):
        hidden = causal.get_decoder()(**on_device(batch, device),
                                      use_cache=False).last_hidden_state
        picked = hidden[picks[0], picks[1]]
        logits = causal.get_output_embeddings()(picked)
    return F.cross_entropy(logits.float(), picks[2])
