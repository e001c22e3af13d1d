"""Two models on the same documents: the difference in a per-document score, with a paired
bootstrap interval.

Each resample draws documents once and scores both models on them, so the interval of the
difference is much narrower than the two models' own intervals side by side: two models a
few points apart on 200 documents have overlapping intervals, yet the paired interval can
exclude 0. The score is exact match for single-label codebooks and Jaccard over presence
(as the paper) for multi-label and graded ones.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from replicoder.metrics import labelsets as metrics
from replicoder.metrics.graded import presence_sets

__all__ = ["difference", "per_document"]


def per_document(truth: Sequence[Collection[str]], pred: Sequence[Collection[str]],
                 labels: Sequence[str], multi_label: bool) -> np.ndarray:
    """(n,) score of each document over label presence (``labels``: the codes): exact
    match, or Jaccard (1 when both sets are empty), as :func:`metrics.per_document`."""
    scores = metrics.per_document(presence_sets(truth), presence_sets(pred), labels)
    result: np.ndarray = scores["jaccard" if multi_label else "subset_accuracy"]
    return result


def difference(a: np.ndarray, b: np.ndarray, *, metric: str, n_boot: int = 1000,
               seed: int = 0, level: float = 0.95) -> dict[str, object]:
    """Mean of ``a`` minus mean of ``b`` (per-document scores of two models on the same
    documents) with a percentile interval from ``n_boot`` paired resamples; ``p_below_0``
    is the share of resamples where the difference is 0 or below."""
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"need two equally long score vectors, not {a.shape} and {b.shape}")
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError(f"n_boot must be 1 or more and level in (0, 1): {n_boot}, {level}")
    diff = a - b
    rng = np.random.default_rng(seed)
    boots = metrics.resample_counts(rng, len(diff), n_boot) @ diff / len(diff)
    tail = (1 - level) / 2
    low, high = np.quantile(boots, [tail, 1 - tail])
    return {"metric": metric, "difference": float(diff.mean()), "ci": [float(low), float(high)],
            "p_below_0": float((boots <= 0).mean()), "n_documents": len(diff)}
