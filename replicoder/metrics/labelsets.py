"""The paper's metrics for label sets: pure numpy, no torch.

Inputs everywhere: ``y_true`` and ``y_pred`` are equally long sequences of label sets (one
set per document; single-label data has one label per set) and ``labels`` the codebook's
codes. Internally they become boolean matrices of shape (n_documents, n_labels).

Conventions for cases a ratio does not define (0 / 0):
- ``jaccard`` of a document whose true and predicted sets are both empty is 1.0 (the two
  sets agree exactly; scikit-learn's ``zero_division=1``).
- Per label, a ratio with a zero denominator is ``None`` (JSON null), not 0: sensitivity
  of a label no document carries, precision of a label never predicted, and so on.
- ``f1_macro`` averages F1 over the labels that occur in the truth or in the predictions
  (as scikit-learn does by default); labels that occur nowhere have no F1 and are left out.
- ``f1_micro`` is None when no label occurs anywhere.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

__all__ = ["HEADLINE", "bootstrap_ci", "check_sizes", "evaluate", "headline", "indicator",
           "per_document", "per_label", "resample_counts"]

HEADLINE = ("subset_accuracy", "hamming_loss", "label_accuracy", "jaccard", "f1_micro",
            "f1_macro")


def indicator(
    label_sets: Sequence[Collection[str]], labels: Sequence[str], name: str = "labels"
) -> np.ndarray:
    """Boolean matrix (n_documents, n_labels); ValueError naming unknown labels and rows."""
    column = {code: j for j, code in enumerate(labels)}
    out = np.zeros((len(label_sets), len(labels)), dtype=bool)
    for i, codes in enumerate(label_sets):
        if isinstance(codes, str):
            raise ValueError(f"{name}[{i}] is the string {codes!r}; give a set of codes")
        for code in codes:
            j = column.get(code)
            if j is None:
                raise ValueError(
                    f"{name}[{i}] has label {code!r}, which is not among the {len(labels)} "
                    f"labels given ({', '.join(map(str, labels[:30]))})"
                )
            out[i, j] = True
    return out


def check_sizes(y_true: Sequence[Collection[str]], y_pred: Sequence[Collection[str]]) -> None:
    """ValueError unless there are documents and as many predictions as truths."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} documents but y_pred has {len(y_pred)}")
    if not y_true:
        raise ValueError("no documents to evaluate: y_true and y_pred are empty")


def _check(y_true: Sequence[Collection[str]], y_pred: Sequence[Collection[str]],
           labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    check_sizes(y_true, y_pred)
    if not labels:
        raise ValueError("labels is empty: give the codebook's codes")
    if len(set(labels)) != len(labels):
        raise ValueError("labels has duplicates")
    return indicator(y_true, labels, "y_true"), indicator(y_pred, labels, "y_pred")


def _ratio(num: float, den: float) -> float | None:
    return float(num) / float(den) if den else None


def _headline(t: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """Headline metrics of boolean matrices t (truth) and p (prediction), same shape."""
    n_labels = t.shape[1]
    wrong = (t != p).sum(axis=1)
    inter = (t & p).sum(axis=1)
    union = (t | p).sum(axis=1)
    jac = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    tp = (t & p).sum(axis=0)
    fp = (~t & p).sum(axis=0)
    fn = (t & ~p).sum(axis=0)
    den = 2 * tp + fp + fn
    f1 = 2 * tp[den > 0] / den[den > 0]
    hamming = float(wrong.mean() / n_labels)
    return {
        "subset_accuracy": float((wrong == 0).mean()),
        "hamming_loss": hamming,
        "label_accuracy": 1.0 - hamming,
        "jaccard": float(jac.mean()),
        "f1_micro": _ratio(2 * tp.sum(), den.sum()),
        "f1_macro": float(f1.mean()) if f1.size else None,
    }


def per_label(t: np.ndarray, p: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """One-vs-rest 2x2 table per label, truth in rows and prediction in columns."""
    out: dict[str, dict[str, Any]] = {}
    for j, code in enumerate(labels):
        tj, pj = t[:, j], p[:, j]
        tp = int((tj & pj).sum())
        fn = int((tj & ~pj).sum())
        fp = int((~tj & pj).sum())
        tn = int((~tj & ~pj).sum())
        sens = _ratio(tp, tp + fn)  # recall: share of true carriers that were found
        spec = _ratio(tn, tn + fp)
        out[code] = {
            "balanced_accuracy": (sens + spec) / 2 if sens is not None and spec is not None
            else None,
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "sensitivity": sens,
            "specificity": spec,
            "precision": _ratio(tp, tp + fp),  # share of predictions that were right
            "support": tp + fn,
            "predicted": tp + fp,
        }
    return out


def headline(
    y_true: Sequence[Collection[str]], y_pred: Sequence[Collection[str]], labels: Sequence[str]
) -> dict[str, Any]:
    """The headline metrics (HEADLINE keys) and ``n_documents``, without per-label tables."""
    t, p = _check(y_true, y_pred, labels)
    return {**_headline(t, p), "n_documents": int(t.shape[0])}


def evaluate(
    y_true: Sequence[Collection[str]], y_pred: Sequence[Collection[str]], labels: Sequence[str]
) -> dict[str, Any]:
    """Headline metrics, ``per_label`` tables and ``n_documents`` for predictions vs truth.

    Keys: subset_accuracy, hamming_loss, label_accuracy (1 - Hamming loss), jaccard
    (sample-averaged), f1_micro, f1_macro, n_documents, n_labels, and per_label: code ->
    {balanced_accuracy, f1, sensitivity, specificity, precision, support, predicted}.
    """
    t, p = _check(y_true, y_pred, labels)
    result: dict[str, Any] = dict(_headline(t, p))
    result["n_documents"] = int(t.shape[0])
    result["n_labels"] = int(t.shape[1])
    result["per_label"] = per_label(t, p, labels)
    return result


def per_document(y_true: Sequence[Collection[str]], y_pred: Sequence[Collection[str]],
                 labels: Sequence[str]) -> dict[str, np.ndarray]:
    """Each document's exact match, Hamming loss and Jaccard (1 when both sets are empty):
    arrays (n,), whose means are the headline figures."""
    return _per_document(*_check(y_true, y_pred, labels))


def _per_document(t: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    wrong = (t != p).sum(axis=1)
    inter = (t & p).sum(axis=1)
    union = (t | p).sum(axis=1)
    return {
        "subset_accuracy": (wrong == 0).astype(float),
        "hamming_loss": wrong / t.shape[1],
        "jaccard": np.where(union > 0, inter / np.maximum(union, 1), 1.0),
    }


def resample_counts(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """How often each document is drawn in each resample: int matrix (n_boot, n)."""
    draws = rng.integers(0, n, size=(n_boot, n))
    flat = (np.arange(n_boot)[:, None] * n + draws).ravel()
    return np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)


def bootstrap_ci(
    y_true: Sequence[Collection[str]],
    y_pred: Sequence[Collection[str]],
    labels: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float | None, float | None]]:
    """Percentile bootstrap intervals (documents resampled) for the headline metrics.

    Returns metric -> (low, high) at ``level``; the same seed gives the same intervals.
    Resamples where a metric is undefined (f1 with no label anywhere) are left out.
    """
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    t, p = _check(y_true, y_pred, labels)
    n = t.shape[0]
    per_doc = _per_document(t, p)
    tp_doc = (t & p).astype(float)
    err_doc = (t != p).astype(float)  # fp + fn per document and label
    rng = np.random.default_rng(seed)
    values: dict[str, list[np.ndarray]] = {k: [] for k in HEADLINE}
    step = max(1, 4_000_000 // n)  # bounded memory: resamples drawn in chunks
    for start in range(0, n_boot, step):
        w = resample_counts(rng, n, min(step, n_boot - start)).astype(float)
        for key, col in per_doc.items():
            values[key].append(w @ col / n)
        values["label_accuracy"].append(1.0 - values["hamming_loss"][-1])
        tp = w @ tp_doc  # (B, L)
        den = 2 * tp + w @ err_doc
        with np.errstate(invalid="ignore", divide="ignore"):
            values["f1_micro"].append(np.where(den.sum(1) > 0, 2 * tp.sum(1) / den.sum(1),
                                               np.nan))
            f1 = np.where(den > 0, 2 * tp / den, np.nan)
            defined = (den > 0).sum(1)
            values["f1_macro"].append(np.where(defined > 0, np.nansum(f1, 1) /
                                               np.maximum(defined, 1), np.nan))
    alpha = (1 - level) / 2
    out: dict[str, tuple[float | None, float | None]] = {}
    for key in HEADLINE:
        v = np.concatenate(values[key])
        v = v[~np.isnan(v)]
        if v.size == 0:
            out[key] = (None, None)
        else:
            low, high = np.quantile(v, [alpha, 1 - alpha])
            out[key] = (float(low), float(high))
    return out
