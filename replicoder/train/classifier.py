"""Fit classifier mode: LoRA + a sequence-classification head on a causal LM.

Single-label codebooks: softmax and cross-entropy. Multi-label: sigmoid and binary
cross-entropy, with per-label thresholds tuned on validation afterwards.

Graded codebooks: the head has one output per value (label × intensity, the codebook's
``values`` order), trained like the plain case over values; the loss adds (weighted by
``presence_weight``) a presence term per label, binary cross-entropy on the log-sum-exp of
its value logits, so that "some intensity" is learnt from every positive of the label.
Decoding (:func:`replicoder.models.decide.decide_graded`) scores a label by that presence
probability, decides it against the label's threshold, and gives a present label its
best-scoring intensity, so a document holds at most one intensity per label. Thresholds are
tuned per label on presence; training selects on micro F1 over values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replicoder.metrics.graded import presence_sets
from replicoder.metrics.labelsets import headline
from replicoder.models import quant
from replicoder.models.base import BaseModel, load_sequence_classifier, load_tokenizer
from replicoder.models.chunks import pooled_loss
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.decide import (
    decode,
    label_matrix,
    label_scores,
    outputs,
    tune_thresholds,
)
from replicoder.models.fastpath import skip_input_casts
from replicoder.models.runtime import to_device, train_attention, train_dtype
from replicoder.progress import Progress
from replicoder.train import loop
from replicoder.train.config import TrainConfig
from replicoder.train.data import Example

__all__ = ["Outcome", "fit", "new_model"]



def new_model(base: BaseModel, n_labels: int, multi_label: bool, config: TrainConfig,
              device: str, bf16: bool = False) -> Any:
    """Base model with a fresh head and LoRA adapters (seeded)."""
    import torch

    torch.manual_seed(config.seed)
    model = load_sequence_classifier(base, n_labels, multi_label=multi_label, device=device,
                                     dtype=train_dtype(device, bf16, config.base_dtype),
                                     quantize=config.quantize,
                                     quantization=quant.record(config.quantize, bf16),
                                     attention=train_attention(device))
    model = config.with_lora(model, "SEQ_CLS")
    if bf16:  # run under autocast: peft's cast of each adapter input is undone at once
        skip_input_casts(model)
    return model


@dataclass
class Outcome:
    scorer: ClassifierScorer
    thresholds: np.ndarray | None
    presence: str  # how label presence is read from a graded head (decide.PRESENCE)
    validation: dict[str, float]
    result: loop.LoopResult
    val_scores: np.ndarray


def fit(base: BaseModel, codes: list[str], multi_label: bool, config: TrainConfig,
        train: list[Example], validation: list[Example], workdir: Path, device: str,
        bf16: bool, *, progress: Progress | None, stop_after: int | None,
        intensities: Sequence[str] = ()) -> Outcome:
    """Train on ``train``, early-stop on ``validation``; checkpoints go to ``workdir``."""
    import torch

    tok = load_tokenizer(base)
    tok.padding_side = "right"
    values = outputs(codes, intensities)
    model = new_model(base, len(values), multi_label, config, device, bf16)
    scorer = ClassifierScorer(model, tok, multi_label, config.length, device, bf16,
                              config.template, loop.COMPILE_BUCKET if config.compile else 1,
                              config.long)
    enc = scorer.encode([e.text for e in train])
    windows_of = enc.of()
    # targets stay on the host: each step indexes them there and copies its rows once
    y = torch.from_numpy(label_matrix([e.labels for e in train], values))
    classes = y.argmax(-1)
    val_texts = [e.text for e in validation]
    val_truth = [e.labels for e in validation]
    graded_presence = bool(intensities) and multi_label and config.presence_weight > 0
    presence = "any" if graded_presence else "max"
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def step_loss(batch: list[int]) -> Any:
        wins = [enc.windows[w] for d in batch for w in windows_of[d]]
        if len(wins) == len(batch):  # one window per document: the plain path
            return loss_of(scorer.logits(wins), batch)
        owner = [k for k, d in enumerate(batch) for _ in windows_of[d]]
        return pooled_loss(torch, scorer.logits, wins, owner, len(batch),
                           lambda logits: loss_of(logits, batch), config.batch_size)

    def loss_of(logits: Any, batch: list[int]) -> Any:
        rows = torch.tensor(batch)
        if not multi_label:
            return torch.nn.functional.cross_entropy(
                logits, to_device(classes[rows], device),
                label_smoothing=config.label_smoothing or 0.0)
        target = to_device(y[rows], device)
        if graded_presence:
            shape = (len(batch), len(codes), len(intensities))
            present = target.view(shape).amax(-1)
            return bce(logits, target) + config.presence_weight * bce(
                logits.view(shape).logsumexp(-1), present)
        return bce(logits, target)

    last: list[np.ndarray] = []  # the latest validation scores

    def evaluate() -> tuple[float, dict[str, float]]:
        last[:] = [scorer.scores(val_texts)]
        pred = decode(last[0], codes, intensities, multi_label, presence=presence)
        m = headline(val_truth, pred, values)
        key = "f1_micro" if multi_label else "subset_accuracy"
        # shown: the figures the training summary reports (`replicoder train`)
        shown = {"val_accuracy": float(m["subset_accuracy"] or 0.0),
                 "val_f1_macro": float(m["f1_macro"] or 0.0)}
        if multi_label:  # what it selects on
            shown["val_f1_micro"] = float(m["f1_micro"] or 0.0)
        return float(m[key] or 0.0), shown

    result = loop.run(model, enc.lengths(), step_loss, evaluate, config, workdir,
                      progress=progress, stop_after=stop_after,
                      low_precision=bf16 and not config.quantize)
    # the loop's last validation (at its final step) scored the weights it kept
    kept_last = last and result.best_step == result.steps
    val_scores = last[0] if kept_last else scorer.scores(val_texts)
    thresholds = None
    if multi_label:
        thresholds = tune_thresholds(label_scores(val_scores, len(codes), presence),
                                     label_matrix(presence_sets(val_truth), codes))
    pred = decode(val_scores, codes, intensities, multi_label, thresholds, presence)
    return Outcome(scorer, thresholds, presence, headline(val_truth, pred, values), result,
                   val_scores)
