"""DSL's cross-fitted first step (replicoder.estimate.crossfit) and the wider-interval note."""

from __future__ import annotations

import numpy as np
import pandas as pd

from replicoder.estimate.coefficients import wider_than_sample_only
from replicoder.estimate.crossfit import FOLDS, cross_fitted
from replicoder.estimate.regression import Data, calibrated, fit


def corpus(n_docs: int = 4000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 10% topic, coded with precision and recall about 0.7 (a weak topic)."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n_docs)
    x = np.column_stack([np.ones(n_docs), group, rng.normal(size=n_docs)])
    y = (rng.random(n_docs) < np.where(group == 1, 0.13, 0.07)).astype(float)
    yhat = np.where(y == 1, rng.random(n_docs) < 0.7, rng.random(n_docs) < 0.033)
    return x, y, yhat.astype(float)


def test_no_document_is_calibrated_on_its_own_label() -> None:
    x, y, yhat = corpus()
    rows = np.sort(np.random.default_rng(2).choice(len(y), 300, replace=False))
    keys = np.asarray([f"d{i}" for i in range(len(y))], dtype=object)
    g = cross_fitted(x, yhat, rows, y[rows], keys=keys)
    flipped = y[rows].copy()
    flipped[0] = 1 - flipped[0]
    again = cross_fitted(x, yhat, rows, flipped, keys=keys)
    assert again[rows[0]] == g[rows[0]]  # its own label is not in its fold's fit
    assert np.sum(again != g) > len(y) * (FOLDS - 2) / FOLDS  # the other folds' fits move
    order = np.random.default_rng(3).permutation(len(y))
    back = np.argsort(order)
    shuffled = cross_fitted(x[order], yhat[order], back[rows], y[rows], keys=keys[order])
    np.testing.assert_allclose(shuffled[back], g, rtol=1e-10)  # folds follow the ids


def test_g_is_calibrated_and_exact_labels_stay() -> None:
    x, y, yhat = corpus()
    rows = np.sort(np.random.default_rng(4).choice(len(y), 1500, replace=False))
    exact = np.zeros(len(y), dtype=bool)
    exact[:50] = True
    g = cross_fitted(x, np.where(exact, y, yhat), rows, y[rows], exact)
    precision = y[yhat == 1].mean()
    assert abs(g[(yhat == 1) & ~exact].mean() - precision) < 0.06
    assert g[(yhat == 0) & ~exact].mean() < 0.08
    np.testing.assert_array_equal(g[:50], y[:50])
    none = cross_fitted(x, yhat, rows[:40], np.zeros(40))  # no positive verified at all
    assert np.isfinite(none).all() and none.max() < 0.05


def test_calibrated_dsl_is_narrower_than_sample_only_on_a_weak_topic() -> None:
    x, y, yhat = corpus()
    ratio = []
    for seed in range(20):
        rows = np.sort(np.random.default_rng(100 + seed).choice(len(y), 200, replace=False))
        d = Data(x, yhat, rows, y[rows], np.full(200, 200 / len(y)))
        ratio.append(fit(d, "logit", "dsl").se / fit(d, "logit", "sample-only").se)
    assert np.mean(ratio, axis=0).max() < 0.9  # DSL on the raw 0/1 answer: 0.97 here


def test_a_corrected_interval_wider_than_sample_only_gets_a_note() -> None:
    rows = [("(intercept)", "dsl", -1.0, 1.0), ("(intercept)", "sample-only", -0.5, 0.5),
            ("(intercept)", "ppi", -0.4, 0.4), ("x", "dsl", 0.0, 0.1),
            ("x", "sample-only", 0.0, 0.2), ("x", "ppi", 0.0, 0.1)]
    table = pd.DataFrame(rows, columns=["term", "method", "low", "high"])
    notes = wider_than_sample_only(table)
    assert len(notes) == 1 and notes[0].startswith(
        "dsl's interval is wider than sample-only's for (intercept): the predictions carry "
        "little information")
    assert wider_than_sample_only(table[table.method != "sample-only"]) == []


def test_with_clusters_a_fold_holds_whole_clusters() -> None:
    x, y, yhat = corpus()
    clusters = np.arange(len(y)) % 97
    rows = np.sort(np.random.default_rng(5).choice(len(y), 300, replace=False))
    d = Data(x, yhat, rows, y[rows], np.full(300, 300 / len(y)), clusters)
    flipped = y[rows].copy()
    flipped[0] = 1 - flipped[0]
    g = calibrated(d).yhat
    again = calibrated(Data(x, yhat, rows, flipped, d.prob, clusters)).yhat
    same_cluster = clusters == clusters[rows[0]]
    np.testing.assert_array_equal(again[same_cluster], g[same_cluster])
    assert (again != g).sum() > 0
