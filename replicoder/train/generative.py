"""Fit generative mode: LoRA instruction tuning of a causal LM to write the label codes
(format: replicoder.models.generative); loss only on the answer tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replicoder.codebook import Codebook
from replicoder.metrics import headline
from replicoder.models.base import BaseModel, load_causal_lm, load_tokenizer
from replicoder.models.generative import GenerativeScorer, instruction, max_answer_tokens
from replicoder.models.runtime import autocast, length_batches
from replicoder.progress import Progress
from replicoder.train import loop
from replicoder.train.config import TrainConfig
from replicoder.train.data import Example


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
    model = config.with_lora(load_causal_lm(base, device=device), "CAUSAL_LM")
    scorer = GenerativeScorer(model, tok, book, instruction(book), config.max_length,
                              max_answer_tokens(tok, book), device, bf16)
    seqs = [_sequence(scorer, e) for e in train]
    val_seqs = [_sequence(scorer, e) for e in validation]

    def batch_loss(items: list[tuple[list[int], list[int]]]) -> Any:
        return answer_loss(model, items, tok.pad_token_id, device, bf16)

    def step_loss(batch: list[int]) -> Any:
        return batch_loss([seqs[i] for i in batch])

    def evaluate() -> tuple[float, dict[str, float]]:
        total = 0.0
        with torch.inference_mode():
            batches = length_batches([len(s[0]) for s in val_seqs], config.batch_size)
            for b in batches:
                total += float(batch_loss([val_seqs[i] for i in b])) * len(b)
        loss = total / len(val_seqs)
        return -loss, {"val_loss": loss}  # lower loss is better: select on its negative

    result = loop.run(model, [len(s[0]) for s in seqs], step_loss, evaluate, config, workdir,
                      progress=progress, stop_after=stop_after)
    pred, _, _ = scorer.predict([e.text for e in validation], config.batch_size)
    metrics = headline([e.labels for e in validation], pred, book.codes)
    metrics["validation_loss"] = -result.best_score
    return Outcome(scorer, metrics, result)


def _sequence(scorer: GenerativeScorer, ex: Example) -> tuple[list[int], list[int]]:
    prompt = scorer.prompt_ids(ex.text)
    target = scorer.answer_ids(ex.labels)
    return prompt + target, [-100] * len(prompt) + target


def answer_loss(model: Any, items: Sequence[tuple[list[int], list[int]]], pad: int,
                device: str, bf16: bool) -> Any:
    """Mean cross-entropy over the answer tokens of (ids, labels) pairs.

    Sequences are padded on the left so that every answer ends at the last position;
    the model then projects onto the vocabulary only the last few positions, which
    spares the largest matmul and the softmax for the prompt tokens (about half of a
    bf16 CPU training step for a 135M model with a 49k vocabulary: 3.4 s -> 1.8 s).
    """
    import torch
    import torch.nn.functional as F

    width = max(len(ids) for ids, _ in items)
    answer = max(sum(1 for t in lab if t != -100) for _, lab in items)
    ids = torch.tensor([[pad] * (width - len(i)) + i for i, _ in items], device=device)
    labels = torch.tensor([[-100] * (width - len(lab)) + lab for _, lab in items],
                          device=device)
    mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i, _ in items],
                        device=device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    keep = answer + 1  # logits at position t predict token t + 1
    with autocast(device, bf16):
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                       logits_to_keep=keep).logits
    target = labels[:, width - keep + 1:]
    return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                           target.reshape(-1), ignore_index=-100)
