"""Metrics for graded label sets (labels with an intensity): the paper's accD, accI, FN, FP.

A document's label set holds values ``code:intensity`` (see :mod:`replicoder.labels.graded`). With
n documents and L labels, each document × label cell is either absent or present at one
intensity. Definitions (all cell rates are over the n × L cells, so FN + FP = Hamming loss):

- ``label_accuracy`` (the paper's accD) = 1 − Hamming loss over presence: the share of cells
  where truth and prediction agree on present/absent, intensity ignored.
- ``intensity_accuracy`` (accI) = 1 − Hamming loss over (label, intensity): a cell is right
  when both are absent, or both present with the same intensity. Always ≤ accD.
- ``fn_rate`` (FN) = cells present in the truth and absent in the prediction / (n × L).
- ``fp_rate`` (FP) = cells absent in the truth and present in the prediction / (n × L).
  These are shares of all cells, as in the paper's summaryOld.csv (accD + FN + FP = 1), not
  the usual FN / (TP + FN) rates; per label, ``sensitivity`` and ``specificity`` give those.
- ``jaccard`` = mean over documents of |T ∩ P| / |T ∪ P| over presence; a document with no
  true and no predicted label scores 1 (the sets agree).
- ``jaccard_graded`` = the same over values (a label at the wrong intensity is in neither
  the intersection and counts twice in the union).
- ``exact_match_graded`` = share of documents whose value set is predicted exactly.
- Per label, over presence: balanced accuracy, F1, sensitivity, specificity, precision
  (:func:`replicoder.metrics.per_label`), plus ``intensity_agreement``: among documents
  where truth and prediction both carry the label, the share with the same intensity
  (None when there are none).

Every headline metric is a mean over documents of a per-document quantity, so bootstrap
intervals resample documents (seeded percentile bootstrap, as :mod:`replicoder.metrics`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from replicoder.labels.graded import split
from replicoder.metrics import labelsets as metrics

__all__ = ["GRADED", "PAPER_NAMES", "bootstrap_ci", "evaluate", "levels", "presence_sets"]

GRADED = ("intensity_accuracy", "fn_rate", "fp_rate", "jaccard_graded", "exact_match_graded")
# the paper's column names (summaryOld.csv) -> replicoder's keys
PAPER_NAMES = {"accD": "label_accuracy", "accI": "intensity_accuracy", "FN": "fn_rate",
               "FP": "fp_rate", "jac": "jaccard", "ham": "hamming_loss"}


def levels(label_sets: Sequence[Collection[str]], codes: Sequence[str],
           intensities: Sequence[str], name: str = "labels") -> np.ndarray:
    """Int matrix (n_documents, n_labels): 0 absent, k ≥ 1 the k-th intensity of the scale.

    ValueError naming the row for an unknown value or a label given two intensities.
    """
    column = {c: j for j, c in enumerate(codes)}
    rank = {lv: k + 1 for k, lv in enumerate(intensities)}
    out = np.zeros((len(label_sets), len(codes)), dtype=np.int8)
    for i, values in enumerate(label_sets):
        if isinstance(values, str):
            raise ValueError(f"{name}[{i}] is the string {values!r}; give a set of values")
        for value in values:
            code, level = split(value)
            j, k = column.get(code), rank.get(level or "")
            if j is None or k is None:
                raise ValueError(
                    f"{name}[{i}] has {value!r}, which is not a graded value code:intensity "
                    f"with a code among {', '.join(list(codes)[:30])} and an intensity "
                    f"among {', '.join(intensities)}")
            if out[i, j]:
                raise ValueError(f"{name}[{i}] gives label {code!r} two intensities")
            out[i, j] = k
    return out


def presence_sets(label_sets: Sequence[Collection[str]]) -> list[frozenset[str]]:
    """Each set with intensities dropped."""
    return [frozenset(split(v)[0] for v in s) for s in label_sets]


def _per_doc(t: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """Per-document contributions whose mean over documents is each GRADED metric."""
    n_labels = t.shape[1]
    tp, pp = t > 0, p > 0
    same = (t == p)
    inter = (tp & pp & same).sum(axis=1)
    union = (tp.sum(axis=1) + pp.sum(axis=1) - inter)
    return {
        "intensity_accuracy": same.sum(axis=1) / n_labels,
        "fn_rate": (tp & ~pp).sum(axis=1) / n_labels,
        "fp_rate": (~tp & pp).sum(axis=1) / n_labels,
        "jaccard_graded": np.where(union > 0, inter / np.maximum(union, 1), 1.0),
        "exact_match_graded": same.all(axis=1).astype(float),
    }


def _check(y_true: Sequence[Collection[str]], y_pred: Sequence[Collection[str]],
           codes: Sequence[str], intensities: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    metrics.check_sizes(y_true, y_pred)
    if not intensities:
        raise ValueError("intensities is empty: the codebook is not graded")
    return (levels(y_true, codes, intensities, "y_true"),
            levels(y_pred, codes, intensities, "y_pred"))


def evaluate(y_true: Sequence[Collection[str]], y_pred: Sequence[Collection[str]],
             codes: Sequence[str], intensities: Sequence[str]) -> dict[str, Any]:
    """:func:`replicoder.metrics.evaluate` over presence, plus the GRADED keys and, per
    label, ``intensity_agreement``."""
    t, p = _check(y_true, y_pred, codes, intensities)
    result = metrics.evaluate(presence_sets(y_true), presence_sets(y_pred), codes)
    for key, col in _per_doc(t, p).items():
        result[key] = float(col.mean())
    both = (t > 0) & (p > 0)
    for j, code in enumerate(codes):
        n_both = int(both[:, j].sum())
        result["per_label"][code]["intensity_agreement"] = (
            float((t[both[:, j], j] == p[both[:, j], j]).mean()) if n_both else None)
    return result


def bootstrap_ci(y_true: Sequence[Collection[str]], y_pred: Sequence[Collection[str]],
                 codes: Sequence[str], intensities: Sequence[str], n_boot: int = 1000,
                 seed: int = 0, level: float = 0.95
                 ) -> dict[str, tuple[float | None, float | None]]:
    """Percentile bootstrap intervals (documents resampled, seeded) for the presence
    headline metrics and the GRADED ones; the same seed gives the same intervals."""
    t, p = _check(y_true, y_pred, codes, intensities)
    out = metrics.bootstrap_ci(presence_sets(y_true), presence_sets(y_pred), codes,
                               n_boot=n_boot, seed=seed, level=level)
    rng = np.random.default_rng(seed + 1)
    n = t.shape[0]
    cols = _per_doc(t, p)
    alpha = (1 - level) / 2
    step = max(1, 4_000_000 // n)
    draws: dict[str, list[np.ndarray]] = {k: [] for k in cols}
    for start in range(0, n_boot, step):
        w = metrics.resample_counts(rng, n, min(step, n_boot - start)).astype(float)
        for key, col in cols.items():
            draws[key].append(w @ col / n)
    for key in GRADED:
        low, high = np.quantile(np.concatenate(draws[key]), [alpha, 1 - alpha])
        out[key] = (float(low), float(high))
    return out
