"""replicoder.metrics.graded against hand-computed cases."""

from __future__ import annotations

import pytest

from replicoder.metrics.graded import GRADED, bootstrap_ci, evaluate, levels

CODES = ["joy", "fear", "hope"]
SCALE = ["low", "medium", "high"]
# doc 0: right label, wrong intensity; doc 1: one right, one missed; doc 2: both empty;
# doc 3: a false positive
TRUE = [{"joy:high"}, {"joy:low", "fear:medium"}, set(), {"hope:low"}]
PRED = [{"joy:low"}, {"joy:low"}, set(), {"hope:low", "fear:high"}]


def test_hand_computed_graded_case() -> None:
    m = evaluate(TRUE, PRED, CODES, SCALE)
    cells = 4 * 3
    # presence: doc 1 misses fear, doc 3 adds fear -> 2 wrong cells of 12
    assert m["label_accuracy"] == pytest.approx(10 / cells)
    assert m["hamming_loss"] == pytest.approx(2 / cells)
    # intensity: also doc 0's joy is wrong -> 3 wrong cells
    assert m["intensity_accuracy"] == pytest.approx(9 / cells)
    assert m["fn_rate"] == pytest.approx(1 / cells)
    assert m["fp_rate"] == pytest.approx(1 / cells)
    assert m["label_accuracy"] + m["fn_rate"] + m["fp_rate"] == pytest.approx(1.0)
    # presence Jaccard per doc: 1, 1/2, empty-empty 1, 1/2
    assert m["jaccard"] == pytest.approx(0.75)
    # graded Jaccard per doc: 0/2, 1/2, 1, 1/2
    assert m["jaccard_graded"] == pytest.approx(0.5)
    assert m["exact_match_graded"] == pytest.approx(0.25)
    assert m["subset_accuracy"] == pytest.approx(0.5)  # presence exact: docs 0 and 2
    joy = m["per_label"]["joy"]
    assert joy["sensitivity"] == 1.0 and joy["intensity_agreement"] == pytest.approx(0.5)
    fear = m["per_label"]["fear"]
    # truth in rows: fear true once (missed), predicted once (wrong)
    assert fear["sensitivity"] == 0.0 and fear["precision"] == 0.0
    assert fear["specificity"] == pytest.approx(2 / 3)
    assert fear["balanced_accuracy"] == pytest.approx(1 / 3)
    assert fear["intensity_agreement"] is None


def test_levels_matrix_and_errors() -> None:
    assert levels([{"fear:high", "joy:low"}], CODES, SCALE).tolist() == [[1, 3, 0]]
    with pytest.raises(ValueError, match=r"y\[0\].*'joy'"):
        levels([{"joy"}], CODES, SCALE, "y")
    with pytest.raises(ValueError, match="two intensities"):
        levels([{"joy:low", "joy:high"}], CODES, SCALE)
    with pytest.raises(ValueError, match="huge"):
        levels([{"joy:huge"}], CODES, SCALE)


def test_bootstrap_is_seeded_and_covers_the_estimate() -> None:
    truth, pred = TRUE * 10, PRED * 10
    a = bootstrap_ci(truth, pred, CODES, SCALE, n_boot=300, seed=3)
    assert a == bootstrap_ci(truth, pred, CODES, SCALE, n_boot=300, seed=3)
    assert a != bootstrap_ci(truth, pred, CODES, SCALE, n_boot=300, seed=4)
    m = evaluate(truth, pred, CODES, SCALE)
    for key in (*GRADED, "label_accuracy", "jaccard"):
        low, high = a[key]
        assert low is not None and high is not None
        assert low <= m[key] <= high and low < high
