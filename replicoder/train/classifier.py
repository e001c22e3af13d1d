"""Classifier mode: LoRA + a sequence-classification head on a causal LM.

Single-label codebooks: softmax and cross-entropy. Multi-label: sigmoid and binary
cross-entropy, with per-label thresholds tuned on validation afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replicoder.models.loading import BaseModel, load_sequence_classifier, load_tokenizer
from replicoder.train import loop
from replicoder.train.config import TrainConfig
from replicoder.train.data import Example, label_matrix, sorted_batches
from replicoder.train.device import autocast
from replicoder.train.scoring import decide, summary, tune_thresholds


@dataclass
class ClassifierScorer:
    """Scores texts with a (LoRA) sequence classifier: (n, n_labels) probabilities."""

    model: Any
    tokenizer: Any
    multi_label: bool
    max_length: int
    device: str
    bf16: bool

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return [list(ids) for ids in enc["input_ids"]]

    def logits(self, ids: Sequence[list[int]]) -> Any:
        """Logits (len(ids), n_labels) of one padded batch, float32."""
        batch = self.tokenizer.pad({"input_ids": list(ids)}, return_tensors="pt")
        with autocast(self.device, self.bf16):
            out = self.model(input_ids=batch["input_ids"].to(self.device),
                             attention_mask=batch["attention_mask"].to(self.device))
        return out.logits.float()

    def scores(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        import torch

        ids = self.encode(texts)
        out = np.zeros((len(ids), self.model.config.num_labels), dtype=np.float32)
        self.model.eval()
        with torch.inference_mode():
            for batch in sorted_batches([len(x) for x in ids], batch_size):
                logits = self.logits([ids[i] for i in batch])
                probs = logits.sigmoid() if self.multi_label else logits.softmax(-1)
                out[batch] = probs.cpu().numpy()
        return out


def new_model(base: BaseModel, n_labels: int, multi_label: bool, config: TrainConfig,
              device: str) -> Any:
    """Base model with a fresh head and LoRA adapters (seeded)."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model

    torch.manual_seed(config.seed)
    model = load_sequence_classifier(base, n_labels, multi_label=multi_label, device=device)
    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=config.lora_r,
                      lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules))
    return get_peft_model(model, lora)


@dataclass
class Outcome:
    scorer: ClassifierScorer
    thresholds: np.ndarray | None
    validation: dict[str, float]
    result: loop.LoopResult


def fit(base: BaseModel, codes: list[str], multi_label: bool, config: TrainConfig,
        train: list[Example], validation: list[Example], workdir: Path, device: str,
        bf16: bool, *, progress: bool, stop_after: int | None) -> Outcome:
    """Train on ``train``, early-stop on ``validation``; checkpoints go to ``workdir``."""
    import torch

    tok = load_tokenizer(base)
    tok.padding_side = "right"
    model = new_model(base, len(codes), multi_label, config, device)
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
        return torch.nn.functional.cross_entropy(logits, target.argmax(-1))

    def evaluate() -> float:
        pred = decide(scorer.scores(val_texts), codes, multi_label)
        key = "micro_f1" if multi_label else "accuracy"
        return summary(pred, val_truth, codes)[key]

    result = loop.run(model, [len(x) for x in ids], step_loss, evaluate, config, workdir,
                      progress=progress, stop_after=stop_after)
    val_scores = scorer.scores(val_texts)
    thresholds = None
    if multi_label:
        thresholds = tune_thresholds(val_scores, label_matrix(val_truth, codes))
    pred = decide(val_scores, codes, multi_label, thresholds)
    return Outcome(scorer, thresholds, summary(pred, val_truth, codes), result)
