"""From scores to label sets, and per-label thresholds. Pure numpy.

Scores are (n_documents, n_labels) arrays, columns in codebook order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from replicoder.labels.graded import join

__all__ = ["PRESENCE", "decide", "decide_graded", "decode", "label_matrix", "label_scores",
           "outputs", "tune_thresholds"]

GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)
# Validation positives a label needs for a threshold of its own. Measured on the
# flourishing replay (46 labels, 111 validation tweets, bench/results/flourishing_replay.json):
# thresholds tuned on 5-19 positives overfit; raising the bar from 5 to 20 moved test
# Jaccard from 0.181 to 0.211 and label accuracy from 0.852 to 0.888.
MIN_POSITIVES = 20
# How a graded head's value probabilities give a label's presence: "max" (its best
# intensity; models trained before presence was fitted) or "any" (the probability of any
# intensity, which the presence term of the training loss fits: see label_scores).
PRESENCE = ("max", "any")


def decide(scores: np.ndarray, codes: Sequence[str], multi_label: bool,
           thresholds: np.ndarray | None = None) -> list[frozenset[str]]:
    """Single-label: the top-scoring code. Multi-label: every code at or above its threshold."""
    if not multi_label:
        return [frozenset([codes[int(i)]]) for i in scores.argmax(axis=1)]
    limits = np.full(len(codes), 0.5) if thresholds is None else thresholds
    return [frozenset(codes[int(j)] for j in np.flatnonzero(row >= limits)) for row in scores]


def label_scores(scores: np.ndarray, n_codes: int, presence: str = "max") -> np.ndarray:
    """(n, n_codes) label scores from (n, n_codes * k) value scores (label-major).

    "max": each label's best value score. "any": for value probabilities p, the
    probability that some intensity is present, S / (1 + S) with S the sum of the odds
    p / (1 - p); that is the sigmoid of the log-sum-exp of the value logits, the presence
    score the classifier's training loss fits.
    """
    if presence not in PRESENCE:
        raise ValueError(f"presence {presence!r}: use one of {PRESENCE}")
    by_label = scores.reshape(scores.shape[0], n_codes, -1)
    if presence == "max":
        result: np.ndarray = by_label.max(axis=2)
        return result
    p = np.clip(by_label.astype(np.float64), 1e-9, 1 - 1e-9)
    odds = (p / (1 - p)).sum(axis=2)
    return odds / (1 + odds)


def decide_graded(scores: np.ndarray, codes: Sequence[str], intensities: Sequence[str],
                  multi_label: bool, thresholds: np.ndarray | None = None,
                  presence: str = "max") -> list[frozenset[str]]:
    """Scores over a graded codebook's values (label-major, scale order) to value sets.

    Each label's score is :func:`label_scores` (``presence``); the labels are then decided
    as :func:`decide` does (``thresholds``: one per label), and each chosen label takes its
    best-scoring intensity. So a document holds at most one intensity per label.
    """
    k = len(intensities)
    by_label = scores.reshape(scores.shape[0], len(codes), k)
    chosen = decide(label_scores(scores, len(codes), presence), codes, multi_label,
                    thresholds)
    best = by_label.argmax(axis=2)
    index = {c: j for j, c in enumerate(codes)}
    return [frozenset(join(c, intensities[int(best[i, index[c]])]) for c in row)
            for i, row in enumerate(chosen)]


def outputs(codes: Sequence[str], intensities: Sequence[str]) -> list[str]:
    """The head's outputs: the codes, or each code:intensity of a graded codebook."""
    return [join(c, lv) for c in codes for lv in intensities] if intensities else list(codes)


def decode(scores: np.ndarray, codes: Sequence[str], intensities: Sequence[str],
           multi_label: bool, thresholds: np.ndarray | None = None, presence: str = "max"
           ) -> list[frozenset[str]]:
    """Label (or value) sets from the head's scores."""
    if intensities:
        return decide_graded(scores, codes, intensities, multi_label, thresholds, presence)
    return decide(scores, codes, multi_label, thresholds)


def _best(scores: np.ndarray, positives: np.ndarray) -> float:
    """The threshold with the best F1 over all cells given; ties go to the higher one
    (fewer false positives)."""
    best, out = -1.0, 0.5
    for t in GRID:
        pred = scores >= t
        f1 = 2 * float(np.sum(pred & positives)) / max(int(pred.sum() + positives.sum()), 1)
        if f1 >= best:
            best, out = f1, float(t)
    return out


def tune_thresholds(scores: np.ndarray, truth: np.ndarray,
                    min_positives: int = MIN_POSITIVES) -> np.ndarray:
    """Per-label thresholds maximising F1 on validation.

    A label with fewer than ``min_positives`` validation positives gets one threshold shared
    by all such labels (pooled F1): tuned on a handful of examples, a label's own threshold
    overfits and floods the test set with false positives.
    """
    positives = truth > 0
    counts = positives.sum(axis=0)
    shared = _best(scores, positives)
    rare = counts < min_positives
    if rare.any() and positives[:, rare].any():
        shared = _best(scores[:, rare], positives[:, rare])
    out = np.full(scores.shape[1], shared)
    for j in np.flatnonzero(~rare):
        out[j] = _best(scores[:, j], positives[:, j])
    return out


def label_matrix(sets: Sequence[frozenset[str]], codes: Sequence[str]) -> np.ndarray:
    """(n, n_labels) float32 0/1 matrix, columns in ``codes`` order."""
    index = {c: i for i, c in enumerate(codes)}
    out = np.zeros((len(sets), len(codes)), dtype=np.float32)
    for row, labels in enumerate(sets):
        for code in labels:
            out[row, index[code]] = 1.0
    return out
