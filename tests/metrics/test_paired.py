"""Paired difference between two models on the same documents (replicoder.metrics.paired)."""

from __future__ import annotations

import numpy as np
import pytest

from replicoder.metrics.labelsets import bootstrap_ci
from replicoder.metrics.paired import difference, per_document


def test_per_document_scores_by_hand() -> None:
    truth = [{"1"}, {"2"}, {"3"}]
    codes = ["1", "2", "3"]
    assert per_document(truth, [{"1"}, {"3"}, {"3"}], codes, False).tolist() == [1.0, 0.0, 1.0]
    # multi-label: Jaccard over presence, intensities ignored, empty vs empty is 1
    truth_m = [{"a:high", "b:low"}, set(), {"c:low"}]
    pred_m = [{"a:low"}, set(), {"d:low"}]
    assert per_document(truth_m, pred_m, ["a", "b", "c", "d"], True).tolist() == [0.5, 1.0, 0.0]
    with pytest.raises(ValueError, match="y_true has 2 documents but y_pred has 1"):
        per_document(truth[:2], [{"1"}], codes, False)


def test_paired_interval_excludes_zero_where_separate_intervals_overlap() -> None:
    # 200 documents: model a right on 150, b on 138; a is right wherever b is.
    truth = [{"1"}] * 200
    a = [{"1"}] * 150 + [{"2"}] * 50
    b = [{"1"}] * 138 + [{"2"}] * 62
    ci_a = bootstrap_ci(truth, a, ["1", "2"], n_boot=500)["subset_accuracy"]
    ci_b = bootstrap_ci(truth, b, ["1", "2"], n_boot=500)["subset_accuracy"]
    assert ci_a[0] is not None and ci_b[1] is not None and ci_a[0] < ci_b[1]  # overlap
    score_a = per_document(truth, a, ["1", "2"], False)
    score_b = per_document(truth, b, ["1", "2"], False)
    d = difference(score_a, score_b,
                   metric="subset_accuracy", n_boot=500)
    assert d["difference"] == pytest.approx(0.06)
    low, high = d["ci"]
    assert 0 < low < 0.06 < high and d["p_below_0"] == 0.0
    # same seed, same interval; swapping the models flips the sign
    again = difference(score_a, score_b,
                       metric="subset_accuracy", n_boot=500)
    assert again == d
    flipped = difference(score_b, score_a,
                         metric="subset_accuracy", n_boot=500)
    assert flipped["ci"] == pytest.approx([-high, -low])


def test_difference_refuses_misaligned_scores() -> None:
    with pytest.raises(ValueError, match="equally long"):
        difference(np.ones(3), np.ones(4), metric="jaccard")
