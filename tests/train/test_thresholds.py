"""Validation thresholds for multi-label decisions."""

from __future__ import annotations

import numpy as np

from replicoder.models.decide import tune_thresholds


def test_frequent_label_gets_its_own_threshold_rare_labels_share_one() -> None:
    rng = np.random.default_rng(0)
    n = 200
    truth = np.zeros((n, 3))
    truth[:60, 0] = 1  # frequent: positives score 0.7-0.9, negatives 0.0-0.6
    scores = np.zeros((n, 3))
    scores[:, 0] = np.where(truth[:, 0] > 0, rng.uniform(0.7, 0.9, n), rng.uniform(0, 0.6, n))
    # rare labels: one validation positive each (0.31 and 0.9), negatives below 0.3
    truth[0, 1] = truth[1, 2] = 1
    scores[:, 1:] = rng.uniform(0.0, 0.29, (n, 2))
    scores[0, 1], scores[1, 2] = 0.31, 0.9
    out = tune_thresholds(scores, truth)
    assert 0.6 < out[0] <= 0.7
    assert out[1] == out[2] == 0.3  # one threshold, pooled over both rare labels
    alone = tune_thresholds(scores, truth, min_positives=1)
    assert (alone[1], alone[2]) == (0.3, 0.9)  # each fitted to its single positive


def test_ties_prefer_the_higher_threshold() -> None:
    scores = np.array([[0.9], [0.1], [0.1]])
    truth = np.array([[1.0], [0.0], [0.0]])
    assert tune_thresholds(scores, truth, min_positives=1)[0] == 0.9


def test_a_label_needs_twenty_validation_positives_for_its_own_threshold() -> None:
    # label 0: 19 positives, label 1: 20; both separate cleanly at 0.8, label 2 is
    # rare and scored low, so the pooled F1 over labels 0 and 2 prefers a lower threshold
    n = 100
    truth = np.zeros((n, 3))
    truth[:19, 0] = truth[:20, 1] = 1
    truth[50:52, 2] = 1
    scores = np.full((n, 3), 0.1)
    scores[:19, 0] = scores[:20, 1] = 0.85
    scores[50:52, 2] = 0.35
    out = tune_thresholds(scores, truth)
    assert out[1] == 0.85  # its own: the highest threshold with the best F1
    assert out[0] == out[2] == 0.35  # pooled with the rare label
