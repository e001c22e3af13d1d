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
from replicoder.models.runtime import autocast, length_batches, train_dtype
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
    causal = load_causal_lm(base, device=device, dtype=train_dtype(device, bf16, config.base_dtype),
                            quantize=config.quantize)
    model = config.with_lora(causal, "CAUSAL_LM")
    scorer = GenerativeScorer(model, tok, book, instruction(book), config.length,
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
    metrics = headline([e.labels for e in validation], pred, book.values)
    metrics["validation_loss"] = -result.best_score
    return Outcome(scorer, metrics, result)


def _sequence(scorer: GenerativeScorer, ex: Example) -> tuple[list[int], list[int]]:
    prompt = scorer.prompt_ids(ex.text)
    target = scorer.answer_ids(ex.labels)
    return prompt + target, [-100] * len(prompt) + target


def answer_loss(model: Any, items: Sequence[tuple[list[int], list[int]]], pad: int,
                device: str, bf16: bool) -> Any:
    """Mean cross-entropy over the answer tokens of (ids, labels) pairs.

    Sequences are padded on the right, so every query row attends to at least its own
    token (left padding leaves pad rows attending to nothing, which gives NaN gradients
    in bf16 with some cuda attention kernels). Only the hidden states that predict an
    answer token go through the vocabulary projection: the largest matmul and the
    softmax are spared for the prompt tokens (about half of a bf16 CPU training step
    for a 135M model with a 49k vocabulary).
    """
    import torch
    import torch.nn.functional as F

    width = max(len(ids) for ids, _ in items)
    ids = torch.tensor([i + [pad] * (width - len(i)) for i, _ in items])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in items])
    rows: list[int] = []
    cols: list[int] = []
    targets: list[int] = []
    for r, (_, lab) in enumerate(items):
        for t in range(1, len(lab)):
            if lab[t] != -100:  # the hidden state at t - 1 predicts token t
                rows.append(r)
                cols.append(t - 1)
                targets.append(lab[t])
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    with autocast(device, bf16):
        hidden = causal.get_decoder()(input_ids=ids.to(device, non_blocking=True),
                                      attention_mask=mask.to(device, non_blocking=True),
                                      use_cache=False).last_hidden_state
        picked = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
        logits = causal.get_output_embeddings()(picked)
    return F.cross_entropy(logits.float(), torch.tensor(targets, device=device))
