"""Classifier scorer: a (LoRA) sequence-classification head on a causal LM.

Single-label codebooks: softmax over labels; multi-label: a sigmoid per label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.models.chunks import Encoded, split
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
    long: str = "truncate"  # longer documents: truncate, head-tail or chunk (models.chunks)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of the windows of ``texts`` (one per text unless ``long`` is chunk);
        see :meth:`encode_docs`."""
        return self.encode_docs(texts).windows

    def encode_docs(self, texts: Sequence[str]) -> Encoded:
        """Each text shown through ``template`` as windows of at most ``max_length`` tokens
        (one window unless ``long`` is chunk); a cut text loses its body, never the cue
        after it (the head reads the last token), and is marked in ``cut``."""
        before, after = check_template(self.template)
        cue: list[int] = []
        if after:
            cue = list(self.tokenizer(after, add_special_tokens=False)["input_ids"])
        prefix = list(self.tokenizer("")["input_ids"])
        bodies = self.tokenizer([before + t for t in texts],
                                add_special_tokens=False)["input_ids"] if texts else []
        return split([list(b) for b in bodies], prefix, cue, self.max_length, self.long)

    def logits(self, ids: Sequence[list[int]]) -> Any:
        """Logits (len(ids), n_labels) of one padded batch, float32."""
        batch = self.tokenizer.pad({"input_ids": list(ids)}, return_tensors="pt")
        with autocast(self.device, self.bf16):
            out = self.model(input_ids=to_device(batch["input_ids"], self.device),
                             attention_mask=to_device(batch["attention_mask"], self.device))
        return out.logits.float()

    def scores(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self.scores_of(self.encode_docs(texts), batch_size)

    def scores_of(self, enc: Encoded, batch_size: int = 32) -> np.ndarray:
        """Scores of texts already encoded (a document's windows pooled by the mean of
        their logits); one copy to the host for the whole call. Memory is bounded by
        ``batch_size`` windows whatever the documents' lengths."""
        import torch

        n_labels = self.model.config.num_labels
        if not enc.n:
            return np.zeros((0, n_labels), dtype=np.float32)
        self.model.eval()
        owner = torch.tensor(enc.owner)
        with torch.inference_mode():
            total: Any = None
            for batch in length_batches([len(w) for w in enc.windows], batch_size):
                logits = self.logits([enc.windows[i] for i in batch])
                if total is None:
                    total = torch.zeros(enc.n, n_labels, device=logits.device)
                total.index_add_(0, owner[batch].to(logits.device), logits)
            counts = torch.bincount(owner, minlength=enc.n).to(total.device)
            mean = total / counts.unsqueeze(1).float()
            probs = mean.sigmoid() if self.multi_label else mean.softmax(-1)
            out: np.ndarray = probs.cpu().numpy().astype(np.float32)
        return out
