"""From scores to label sets, threshold tuning and the validation metrics of a run.

Pure numpy: scores are (n_documents, n_labels) arrays, columns in codebook order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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


def summary(pred: Sequence[frozenset[str]], truth: Sequence[frozenset[str]],
            codes: Sequence[str]) -> dict[str, float]:
    """Subset accuracy, micro-F1 and macro-F1 (over labels present in truth or predictions)."""
    n = len(truth)
    acc = sum(p == t for p, t in zip(pred, truth, strict=True)) / n if n else 0.0
    tp_all = fp_all = fn_all = 0
    f1s: list[float] = []
    for code in codes:
        tp = sum(code in p and code in t for p, t in zip(pred, truth, strict=True))
        fp = sum(code in p and code not in t for p, t in zip(pred, truth, strict=True))
        fn = sum(code not in p and code in t for p, t in zip(pred, truth, strict=True))
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    micro = 2 * tp_all / (2 * tp_all + fp_all + fn_all) if tp_all + fp_all + fn_all else 0.0
    return {"n": float(n), "accuracy": acc, "micro_f1": micro,
            "macro_f1": float(np.mean(f1s)) if f1s else 0.0}
