"""Fine-tuned classifier + TF-IDF: log-probabilities plus a weight times the SVM margins.

``combine`` gives probabilities again (a softmax of the sum); ``choose_weight`` picks the
weight with the lowest validation log-loss among WEIGHTS (0 switches the TF-IDF part off).
Single-label codebooks only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from replicoder.models.tfidf import TfidfSvm

__all__ = ["WEIGHTS", "Ensemble", "choose_weight", "combine"]

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
UNSEEN = -10.0  # SVM margin for a code no training document carried (the SVM gives -inf)


def combine(probs: np.ndarray, margins: np.ndarray, weight: float) -> np.ndarray:
    """Probabilities (n, k) from the classifier's ``probs`` and the SVM's ``margins``."""
    logits = np.log(np.clip(probs, 1e-12, 1.0)) + weight * np.where(
        np.isfinite(margins), margins, UNSEEN)
    logits -= logits.max(1, keepdims=True)
    out = np.exp(logits)
    result: np.ndarray = (out / out.sum(1, keepdims=True)).astype(np.float32)
    return result


def choose_weight(probs: np.ndarray, margins: np.ndarray, truth: np.ndarray
                  ) -> tuple[float, list[dict[str, float]]]:
    """(best weight, a row per weight with validation log-loss and accuracy);
    ``truth`` holds the index of each document's code."""
    rows = []
    for w in WEIGHTS:
        p = combine(probs, margins, w)
        picked = p[np.arange(len(truth)), truth]
        rows.append({"weight": w, "log_loss": float(-np.log(np.clip(picked, 1e-12, 1)).mean()),
                     "accuracy": float((p.argmax(1) == truth).mean())})
    best = min(rows, key=lambda r: (r["log_loss"], r["weight"]))
    return best["weight"], rows


@dataclass(frozen=True)
class Ensemble:
    """A TF-IDF model fit on the classifier's training documents, and its weight."""

    tfidf: TfidfSvm
    weight: float

    def scores(self, texts: Sequence[str], probs: np.ndarray) -> np.ndarray:
        """The classifier's ``probs`` for ``texts`` combined with the TF-IDF margins."""
        return combine(probs, self.tfidf.decision_function(texts), self.weight)
