"""Classifier scorer: a (LoRA) sequence-classification head on a causal LM.

Single-label codebooks: softmax over labels; multi-label: a sigmoid per label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder.models.runtime import autocast, length_batches, to_device

__all__ = ["ClassifierScorer"]


@dataclass
class ClassifierScorer:
    """Scores texts: (n, n_labels) probabilities in codebook order."""

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
            out = self.model(input_ids=to_device(batch["input_ids"], self.device),
                             attention_mask=to_device(batch["attention_mask"], self.device))
        return out.logits.float()

    def scores(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self.scores_of(self.encode(texts), batch_size)

    def scores_of(self, ids: Sequence[list[int]], batch_size: int = 32) -> np.ndarray:
        """Scores of texts already encoded; one copy to the host for the whole call."""
        import torch

        out = np.zeros((len(ids), self.model.config.num_labels), dtype=np.float32)
        self.model.eval()
        parts: list[Any] = []
        order: list[int] = []
        with torch.inference_mode():
            for batch in length_batches([len(x) for x in ids], batch_size):
                logits = self.logits([ids[i] for i in batch])
                parts.append(logits.sigmoid() if self.multi_label else logits.softmax(-1))
                order.extend(batch)
            if parts:
                out[order] = torch.cat(parts).cpu().numpy()
        return out
