"""Predictions: what any model (fine-tuned, baseline, annotator crowd) says about documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Predictions"]


@dataclass
class Predictions:
    """Label sets for ``doc_ids``, with optional per-label scores.

    ``scores`` has shape (n_documents, n_labels), columns in the order of ``codes``
    (the codebook's order); it is None for models that give no scores.
    """

    model: str
    doc_ids: list[str]
    labels: list[frozenset[str]]
    codes: list[str]
    scores: np.ndarray | None = None
    provenance: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if len(self.doc_ids) != len(self.labels):
            raise ValueError("doc_ids and labels differ in length")
        if self.scores is not None and self.scores.shape != (len(self.doc_ids), len(self.codes)):
            raise ValueError(
                f"scores shape {self.scores.shape} != ({len(self.doc_ids)}, {len(self.codes)})"
            )

    def slice(self, start: int, stop: int) -> Predictions:
        """Rows ``start:stop``; provenance lists of one entry per row are sliced too."""
        n = len(self.doc_ids)
        prov = None if self.provenance is None else {
            k: v[start:stop] if isinstance(v, list) and len(v) == n else v
            for k, v in self.provenance.items()}
        scores = None if self.scores is None else self.scores[start:stop]
        return Predictions(self.model, self.doc_ids[start:stop], self.labels[start:stop],
                           self.codes, scores, prov)

    def by_id(self) -> dict[str, frozenset[str]]:
        return dict(zip(self.doc_ids, self.labels, strict=True))
