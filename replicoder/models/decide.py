"""From scores to label sets, and per-label thresholds. Pure numpy.

Scores are (n_documents, n_labels) arrays, columns in codebook order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["decide", "label_matrix", "tune_thresholds"]

GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)


def decide(scores: np.ndarray, codes: Sequence[str], multi_label: bool,
           thresholds: np.ndarray | None = None) -> list[frozenset[str]]:
    """Single-label: the top-scoring code. Multi-label: every code at or above its threshold."""
    if not multi_label:
        return [frozenset([codes[int(i)]]) for i in scores.argmax(axis=1)]
    limits = np.full(len(codes), 0.5) if thresholds is None else thresholds
    return [frozenset(codes[int(j)] for j in np.flatnonzero(row >= limits)) for row in scores]


def tune_thresholds(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-label threshold maximising that label's F1 on validation (0.5 without positives)."""
    out = np.full(scores.shape[1], 0.5)
    for j in range(scores.shape[1]):
        positives = truth[:, j] > 0
        if not positives.any():
            continue
        best = -1.0
        for t in GRID:
            pred = scores[:, j] >= t
            tp = float(np.sum(pred & positives))
            f1 = 2 * tp / (pred.sum() + positives.sum())
            if f1 > best:
                best, out[j] = f1, t
    return out


def label_matrix(sets: Sequence[frozenset[str]], codes: Sequence[str]) -> np.ndarray:
    """(n, n_labels) float32 0/1 matrix, columns in ``codes`` order."""
    index = {c: i for i, c in enumerate(codes)}
    out = np.zeros((len(sets), len(codes)), dtype=np.float32)
    for row, labels in enumerate(sets):
        for code in labels:
            out[row, index[code]] = 1.0
    return out
