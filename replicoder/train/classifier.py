"""Fit classifier mode: LoRA + a sequence-classification head on a causal LM.

Single-label codebooks: softmax and cross-entropy. Multi-label: sigmoid and binary
cross-entropy, with per-label thresholds tuned on validation afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replicoder.metrics import headline
from replicoder.models.base import BaseModel, load_sequence_classifier, load_tokenizer
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.decide import decide, label_matrix, tune_thresholds
from replicoder.models.runtime import train_dtype
from replicoder.progress import Progress
from replicoder.train import loop
from replicoder.train.config import TrainConfig
from replicoder.train.data import Example


def new_model(base: BaseModel, n_labels: int, multi_label: bool, config: TrainConfig,
              device: str, bf16: bool = False) -> Any:
    """Base model with a fresh head and LoRA adapters (seeded)."""
    import torch

    torch.manual_seed(config.seed)
    model = load_sequence_classifier(base, n_labels, multi_label=multi_label, device=device,
                                     dtype=train_dtype(device, bf16, config.base_dtype),
                                     quantize=config.quantize)
    return config.with_lora(model, "SEQ_CLS")


@dataclass
class Outcome:
    scorer: ClassifierScorer
    thresholds: np.ndarray | None
    validation: dict[str, float]
    result: loop.LoopResult
    val_scores: np.ndarray


def fit(base: BaseModel, codes: list[str], multi_label: bool, config: TrainConfig,
        train: list[Example], validation: list[Example], workdir: Path, device: str,
        bf16: bool, *, progress: Progress | None, stop_after: int | None) -> Outcome:
    """Train on ``train``, early-stop on ``validation``; checkpoints go to ``workdir``."""
    import torch

    tok = load_tokenizer(base)
    tok.padding_side = "right"
    model = new_model(base, len(codes), multi_label, config, device, bf16)
    scorer = ClassifierScorer(model, tok, multi_label, config.max_length, device, bf16)
    ids = scorer.encode([e.text for e in train])
    y = torch.from_numpy(label_matrix([e.labels for e in train], codes)).to(device)
    val_texts = [e.text for e in validation]
    val_truth = [e.labels for e in validation]

    def step_loss(batch: list[int]) -> Any:
        logits = scorer.logits([ids[i] for i in batch])
        target = y[batch]
        if multi_label:
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        return torch.nn.functional.cross_entropy(logits, target.argmax(-1),
                                                 label_smoothing=config.label_smoothing)

    def evaluate() -> tuple[float, dict[str, float]]:
        pred = decide(scorer.scores(val_texts), codes, multi_label)
        m = headline(val_truth, pred, codes)
        key = "f1_micro" if multi_label else "subset_accuracy"
        # shown: the figures the training summary reports (`replicoder train`)
        shown = {"val_accuracy": float(m["subset_accuracy"] or 0.0),
                 "val_f1_macro": float(m["f1_macro"] or 0.0)}
        if multi_label:  # what it selects on
            shown["val_f1_micro"] = float(m["f1_micro"] or 0.0)
        return float(m[key] or 0.0), shown

    result = loop.run(model, [len(x) for x in ids], step_loss, evaluate, config, workdir,
                      progress=progress, stop_after=stop_after)
    val_scores = scorer.scores(val_texts)
    thresholds = None
    if multi_label:
        thresholds = tune_thresholds(val_scores, label_matrix(val_truth, codes))
    pred = decide(val_scores, codes, multi_label, thresholds)
    return Outcome(scorer, thresholds, headline(val_truth, pred, codes), result, val_scores)
