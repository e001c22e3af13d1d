"""replicoder.metrics against scikit-learn and hand-computed cases."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from replicoder.metrics.labelsets import HEADLINE, bootstrap_ci, evaluate, indicator

LABELS = ["a", "b", "c"]
TRUE = [{"a"}, {"a", "b"}, set(), {"b"}]
PRED = [{"a"}, {"a"}, set(), {"a", "b"}]


def test_hand_computed_multi_label_case() -> None:
    m = evaluate(TRUE, PRED, LABELS)
    assert m["subset_accuracy"] == pytest.approx(0.5)
    assert m["hamming_loss"] == pytest.approx(2 / 12)
    assert m["label_accuracy"] == pytest.approx(10 / 12)
    # per document: 1, 1/2, both empty -> 1, 1/2
    assert m["jaccard"] == pytest.approx(0.75)
    assert m["f1_micro"] == pytest.approx(6 / 8)
    assert m["f1_macro"] == pytest.approx((0.8 + 2 / 3) / 2)  # c occurs nowhere: left out
    assert m["n_documents"] == 4 and m["n_labels"] == 3
    a, b, c = (m["per_label"][k] for k in LABELS)
    assert a == pytest.approx({"balanced_accuracy": 0.75, "f1": 0.8, "sensitivity": 1.0,
                               "specificity": 0.5, "precision": 2 / 3, "support": 2,
                               "predicted": 3})
    assert b == pytest.approx({"balanced_accuracy": 0.75, "f1": 2 / 3, "sensitivity": 0.5,
                               "specificity": 1.0, "precision": 1.0, "support": 2,
                               "predicted": 1})
    assert c == {"balanced_accuracy": None, "f1": None, "sensitivity": None,
                 "specificity": 1.0, "precision": None, "support": 0, "predicted": 0}


def test_orientation_truth_and_prediction_are_not_interchangeable() -> None:
    m = evaluate(TRUE, PRED, LABELS)["per_label"]["a"]
    swapped = evaluate(PRED, TRUE, LABELS)["per_label"]["a"]
    assert m["sensitivity"] == 1.0 and m["precision"] == pytest.approx(2 / 3)
    assert swapped["sensitivity"] == pytest.approx(2 / 3) and swapped["precision"] == 1.0
    assert m["support"] == 2 and swapped["support"] == 3


def test_single_label_matches_accuracy_and_macro_f1() -> None:
    true = ["1", "2", "1", "3", "3", "1"]
    pred = ["1", "1", "2", "3", "5", "1"]  # "5" predicted, never true; "4" occurs nowhere
    m = evaluate([{x} for x in true], [{x} for x in pred], ["1", "2", "3", "4", "5"])
    assert m["subset_accuracy"] == pytest.approx(skm.accuracy_score(true, pred))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(true, pred, average="macro"))
    assert m["f1_micro"] == pytest.approx(skm.f1_score(true, pred, average="micro"))
    assert m["per_label"]["5"]["precision"] == 0.0 and m["per_label"]["5"]["f1"] == 0.0
    assert m["per_label"]["5"]["sensitivity"] is None
    assert m["per_label"]["4"]["f1"] is None
    # one label per document: each error costs two label slots out of 5
    assert m["hamming_loss"] == pytest.approx(3 * 2 / (6 * 5))


def test_all_sets_empty_is_perfect_agreement_with_undefined_f1() -> None:
    m = evaluate([set(), set()], [set(), set()], ["x"])
    assert m["jaccard"] == 1.0 and m["subset_accuracy"] == 1.0
    assert m["f1_micro"] is None and m["f1_macro"] is None
    ci = bootstrap_ci([set(), set()], [set(), set()], ["x"], n_boot=20)
    assert ci["f1_macro"] == (None, None) and ci["jaccard"] == (1.0, 1.0)


@pytest.mark.parametrize(
    ("true", "pred", "labels", "message"),
    [
        ([{"a"}], [{"a"}, {"b"}], ["a", "b"], "1 documents but y_pred has 2"),
        ([{"z"}], [{"a"}], ["a", "b"], "y_true[0] has label 'z'"),
        ([{"a"}, {"a"}], [{"a"}, {"q"}], ["a", "b"], "y_pred[1] has label 'q'"),
        (["a"], [{"a"}], ["a"], "y_true[0] is the string 'a'"),
        ([], [], ["a"], "no documents"),
        ([{"a"}], [{"a"}], [], "labels is empty"),
        ([{"a"}], [{"a"}], ["a", "a"], "duplicates"),
    ],
)
def test_bad_input_is_a_clear_value_error(
    true: list, pred: list, labels: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate(true, pred, labels)
    with pytest.raises(ValueError, match=re.escape(message)):
        bootstrap_ci(true, pred, labels, n_boot=5)


# scikit-learn needs 2+ columns for multi-label input
label_sets = st.integers(min_value=2, max_value=6).flatmap(
    lambda n_labels: st.integers(min_value=1, max_value=40).flatmap(
        lambda n_docs: st.tuples(
            st.just(n_labels),
            st.lists(st.lists(st.booleans(), min_size=n_labels, max_size=n_labels),
                     min_size=n_docs, max_size=n_docs),
            st.lists(st.lists(st.booleans(), min_size=n_labels, max_size=n_labels),
                     min_size=n_docs, max_size=n_docs),
        )
    )
)


def _sets(matrix: np.ndarray, labels: list[str]) -> list[set[str]]:
    return [{labels[j] for j in np.flatnonzero(row)} for row in matrix]


def _close(ours: float | None, theirs: float) -> bool:
    return ours is None and math.isnan(theirs) or ours is not None and math.isclose(
        ours, theirs, abs_tol=1e-12)


@settings(max_examples=150, deadline=None)
@given(label_sets)
def test_every_number_matches_scikit_learn(case: tuple[int, list, list]) -> None:
    n_labels, t_rows, p_rows = case
    labels = [f"L{j}" for j in range(n_labels)]
    t, p = np.array(t_rows, dtype=int), np.array(p_rows, dtype=int)
    m = evaluate(_sets(t, labels), _sets(p, labels), labels)
    nan = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert m["subset_accuracy"] == pytest.approx(skm.accuracy_score(t, p))
        assert m["hamming_loss"] == pytest.approx(skm.hamming_loss(t, p))
        assert m["label_accuracy"] == pytest.approx(1 - skm.hamming_loss(t, p))
        assert m["jaccard"] == pytest.approx(
            skm.jaccard_score(t, p, average="samples", zero_division=1.0))
        assert _close(m["f1_micro"], skm.f1_score(t, p, average="micro", zero_division=nan))
        present = [j for j in range(n_labels) if t[:, j].any() or p[:, j].any()]
        if present:
            assert m["f1_macro"] == pytest.approx(
                skm.f1_score(t, p, average="macro", labels=present))
        else:
            assert m["f1_macro"] is None
        for j, code in enumerate(labels):
            row = m["per_label"][code]
            tj, pj = t[:, j], p[:, j]
            assert _close(row["sensitivity"], skm.recall_score(tj, pj, zero_division=nan))
            assert _close(row["specificity"],
                          skm.recall_score(1 - tj, 1 - pj, zero_division=nan))
            assert _close(row["precision"], skm.precision_score(tj, pj, zero_division=nan))
            assert _close(row["f1"], skm.f1_score(tj, pj, zero_division=nan))
            assert row["support"] == int(tj.sum())
            if 0 < tj.sum() < len(tj):
                assert row["balanced_accuracy"] == pytest.approx(
                    skm.balanced_accuracy_score(tj, pj))
            else:
                assert row["balanced_accuracy"] is None


def test_bootstrap_equals_a_plain_resampling_loop_and_is_seeded() -> None:
    rng = np.random.default_rng(5)
    labels = [str(k) for k in range(5)]
    t = rng.random((60, 5)) < 0.3
    p = np.where(rng.random((60, 5)) < 0.8, t, ~t)
    true, pred = _sets(t, labels), _sets(p, labels)
    ci = bootstrap_ci(true, pred, labels, n_boot=200, seed=3, level=0.9)
    # the same draws, one resample at a time, through evaluate()
    draws = np.random.default_rng(3).integers(0, 60, size=(200, 60))
    per_boot = [evaluate([true[i] for i in d], [pred[i] for i in d], labels) for d in draws]
    for key in HEADLINE:
        vals = [b[key] for b in per_boot if b[key] is not None]
        low, high = np.quantile(vals, [0.05, 0.95])
        assert ci[key] == pytest.approx((low, high)), key
    point = evaluate(true, pred, labels)
    for key in HEADLINE:
        assert ci[key][0] <= point[key] <= ci[key][1]
    assert bootstrap_ci(true, pred, labels, n_boot=200, seed=3, level=0.9) == ci
    assert bootstrap_ci(true, pred, labels, n_boot=200, seed=4, level=0.9) != ci
    wider = bootstrap_ci(true, pred, labels, n_boot=200, seed=3, level=0.99)
    assert wider["jaccard"][0] <= ci["jaccard"][0] and wider["jaccard"][1] >= ci["jaccard"][1]


def test_indicator_shape_and_columns() -> None:
    m = indicator([{"b"}, {"a", "c"}], ["a", "b", "c"])
    assert m.shape == (2, 3)
    assert m.tolist() == [[False, True, False], [True, False, True]]
