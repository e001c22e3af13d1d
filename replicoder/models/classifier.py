"""Classifier scorer: a (LoRA) sequence-classification head on a causal LM.

Single-label codebooks: softmax over labels; multi-label: a sigmoid per label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.models.runtime import autocast, length_batches, to_device

__all__ = ["TEXT", "ClassifierScorer", "check_template"]

TEXT = "{text}"


def check_template(template: str) -> tuple[str, str]:
    """(before, after) the one ``{text}`` of ``template``; plain text replacement, so a
    template from someone else's study can hold nothing that runs."""
    if template.count(TEXT) != 1:
        raise ReplicoderError(
            f"template {template!r} must contain {TEXT} exactly once (where the document's "
            "text goes), e.g. '{text}\\nTopic:'"
        )
    before, _, after = template.partition(TEXT)
    return before, after


@dataclass
class ClassifierScorer:
    """Scores texts: (n, n_labels) probabilities in codebook order."""

    model: Any
    tokenizer: Any
    multi_label: bool
    max_length: int
    device: str
    bf16: bool
    template: str = TEXT

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text shown through ``template``, at most ``max_length``: a
        long text is cut, never the cue after it (the head reads the last token)."""
        before, after = check_template(self.template)
        cue: list[int] = []
        if after:
            cue = list(self.tokenizer(after, add_special_tokens=False)["input_ids"])
        room = max(1, self.max_length - len(cue))
        enc = self.tokenizer([before + t for t in texts], truncation=True, max_length=room)
        return [list(ids) + cue for ids in enc["input_ids"]]

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
