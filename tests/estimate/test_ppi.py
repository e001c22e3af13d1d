"""The PPI estimator, share table and sample draws on synthetic data with a known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from replicoder.errors import ReplicoderError
from replicoder.estimate.ppi import (
    classical_mean,
    combine_strata,
    mover_sum,
    poststratify,
    ppi_mean,
    tuned_lambda,
    wilson,
    z_value,
)
from replicoder.estimate.shares import Population, estimate_shares
from replicoder.review import design as sampling

Y = [1.0, 0.0, 1.0, 0.0]
YHAT = [1.0, 0.0, 0.0, 0.0]
YHAT_ALL = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_plain_ppi_matches_a_hand_computed_case() -> None:
    est = ppi_mean(Y, YHAT, YHAT_ALL, lam=1.0)
    # mean of predictions 3/8 + mean rectifier (0+0+1+0)/4
    assert est.estimate[0] == pytest.approx(0.375 + 0.25)
    # var(yhat_all)/N + var(y - yhat)/n with population variances
    assert est.se[0] == pytest.approx(math.sqrt(0.375 * 0.625 / 8 + 0.25 * 0.75 / 4))
    low, high = est.interval(0.95)
    assert (high - est.estimate)[0] == pytest.approx(1.959964 * est.se[0], rel=1e-6)
    assert low[0] < 0.625 < high[0]


def test_tuned_lambda_matches_a_hand_computed_case() -> None:
    # cov_n(y, yhat) = 0.125; pooled yhat (12 values, 4 ones) var ddof 1 = 24/99;
    # lam = 0.125 / ((1 + 4/8) * 24/99) = 0.34375
    assert tuned_lambda(np.array(Y), np.array(YHAT), np.array(YHAT_ALL))[0] == \
        pytest.approx(0.34375)
    est = ppi_mean(Y, YHAT, YHAT_ALL)
    assert est.lam[0] == pytest.approx(0.34375)
    assert est.estimate[0] == pytest.approx(0.34375 * 0.375 + (2 - 0.34375) / 4)


def test_overall_lambda_pools_the_coordinates() -> None:
    y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    yhat = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    yhat_all = np.vstack([yhat, yhat])
    # each coordinate: cov_n 0.125; pooled yhat has 3 of 12 (resp. 9 of 12) ones, so
    # var = 12/11 * 3/16 for both; lam = 0.125 / (1.5 * 12/11 * 3/16) = 0.407407...
    lam = 0.125 / (1.5 * 12 / 11 * 3 / 16)
    assert tuned_lambda(y, yhat, yhat_all).tolist() == pytest.approx([lam, lam])
    element = tuned_lambda(y, yhat, yhat_all, mode="element")
    assert element.tolist() == pytest.approx([lam, lam])
    y[:, 1] = yhat[:, 1]  # cov_n of coordinate 2 becomes 3/16
    low, high = tuned_lambda(y, yhat, yhat_all, mode="element").tolist()
    overall = tuned_lambda(y, yhat, yhat_all).tolist()
    assert low < overall[0] == overall[1] < high
    assert overall[0] == pytest.approx((0.125 + 3 / 16) / (1.5 * 2 * 12 / 11 * 3 / 16))


def test_lambda_zero_is_the_sample_mean_and_constant_predictions_give_zero() -> None:
    zero = ppi_mean(Y, YHAT, YHAT_ALL, lam=0.0)
    classic = classical_mean(Y)
    assert zero.estimate[0] == classic.estimate[0] == 0.5
    assert zero.se[0] == pytest.approx(classic.se[0])
    flat = ppi_mean(Y, [0.0] * 4, [0.0] * 8)
    assert flat.lam[0] == 0.0 and flat.estimate[0] == 0.5


def test_combine_strata_weighs_by_population() -> None:
    a, b = classical_mean([1.0, 1.0, 0.0, 1.0]), classical_mean([0.0, 0.0, 1.0, 0.0])
    both = combine_strata([a, b], [300, 100])
    assert both.estimate[0] == pytest.approx(0.75 * 0.75 + 0.25 * 0.25)
    assert both.se[0] == pytest.approx(math.sqrt(0.75**2 * a.se[0] ** 2 + 0.25**2 * b.se[0] ** 2))
    with pytest.raises(ValueError):
        z_value(1.2)


def test_wilson_mover_and_poststratify_match_hand_computed_cases() -> None:
    z = z_value(0.95)
    # Wilson for 0 of 10: [0, z^2 / (10 + z^2)]; 5 of 10 is symmetric around 0.5
    none, half = wilson(np.array([0.0, 5.0]), np.array([10.0, 10.0]), z).high
    assert none == pytest.approx(z**2 / (10 + z**2))
    assert half == pytest.approx(0.5 + z * math.sqrt(0.025 + z**2 / 400) / (1 + z**2 / 10))
    empty = wilson(np.array([0.0]), np.array([0.0]), z)
    assert (empty.estimate[0], empty.low[0], empty.high[0]) == (0.5, 0.0, 1.0)
    with pytest.raises(ValueError):
        wilson(np.array([2.0]), np.array([1.0]), z)
    # predicted 1 on 2 of 8 documents; sample: 1 of 2 predicted-1 and 1 of 2 predicted-0 true
    y, yhat = np.array([1.0, 0.0, 1.0, 0.0]), np.array([1.0, 1.0, 0.0, 0.0])
    weights, k, m = poststratify(y, yhat, np.array([1.0, 1.0] + [0.0] * 6))
    assert weights[:, 0].tolist() == [0.25, 0.75] and k[:, 0].tolist() == [1, 1]
    assert m[:, 0].tolist() == [2, 2]
    parts = wilson(k, m, z)
    both = mover_sum(weights, parts)
    assert both.estimate[0] == pytest.approx(0.5)
    spread = math.sqrt(0.25**2 + 0.75**2) * (0.5 - parts.low[0, 0])
    assert both.low[0] == pytest.approx(0.5 - spread)
    # no sampled document predicted 1: that stratum, 1/8 of the population, is unknown
    weights, k, m = poststratify(y, np.zeros(4), np.array([1.0] + [0.0] * 7))
    assert m[:, 0].tolist() == [0, 4] and k[:, 0].tolist() == [0, 2]
    unknown = mover_sum(weights, wilson(k, m, z))
    assert unknown.estimate[0] == pytest.approx(0.125 * 0.5 + 0.875 * 0.5)
    assert unknown.high[0] - unknown.estimate[0] > 0.125


def test_rare_labels_keep_their_coverage_where_the_clt_interval_does_not() -> None:
    """Labels of 2-5% prevalence, a classifier that misses 30% of them, 100 verified
    documents: the PPI++ CLT interval (a mean of rectifiers that are mostly 0) covers
    < 0.93; the stratified Wilson-MOVER interval >= 0.93, narrower than sample-only."""
    rng = np.random.default_rng(0)
    z, n_docs, reps = z_value(0.95), 5000, 300
    y = (rng.random((n_docs, 4)) < np.array([0.03, 0.03, 0.02, 0.05])).astype(float)
    pred = np.where(y == 1, rng.random(y.shape) >= 0.3, rng.random(y.shape) < 0.01)
    truth = y.mean(0)
    clt, ours, width, width_sample = (np.zeros(4) for _ in range(4))
    for _ in range(reps):
        s = rng.choice(n_docs, 100, replace=False)
        low, high = ppi_mean(y[s], pred[s], pred).interval(0.95)
        clt += (low <= truth) & (truth <= high)
        weights, k, m = poststratify(y[s], pred[s], pred)
        b = mover_sum(weights, wilson(k, m, z))
        ours += (b.low <= truth) & (truth <= b.high)
        width += b.high - b.low
        alone = wilson(y[s].sum(0), np.full(4, 100.0), z)
        width_sample += alone.high - alone.low
    assert clt.min() / reps < 0.93, clt / reps
    assert ours.min() / reps >= 0.93, ours / reps
    assert (width < 0.9 * width_sample).all(), (width / width_sample)


def synthetic(seed: int = 0, n_docs: int = 4000) -> tuple[list[str], np.ndarray, np.ndarray,
                                                          list[str]]:
    """Single-label documents of 4 labels and a classifier whose errors are asymmetric:
    it pulls labels 1-3 towards label 0 (share 0.45 in truth), more so in stratum B."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(4, size=n_docs, p=[0.45, 0.25, 0.18, 0.12])
    strata = np.where(rng.random(n_docs) < 0.3, "B", "A")
    pred = truth.copy()
    wrong = rng.random(n_docs) < np.where(strata == "B", 0.35, 0.15)
    pred[wrong & (truth > 0)] = 0
    flip = rng.random(n_docs) < 0.05
    pred[flip & (truth == 0)] = 3
    eye = np.eye(4)
    ids = [f"doc{i:05d}" for i in range(n_docs)]
    return ids, eye[truth], eye[pred], strata.tolist()


def _coverage(design: str, reps: int = 300, n: int = 300) -> dict[str, dict[str, float]]:
    ids, y, pred, strata = synthetic()
    codes = ["0", "1", "2", "3"]
    truth = y.mean(0)
    hits = {m: np.zeros(4) for m in ("ppi", "classify-and-count", "sample-only")}
    width = {m: np.zeros(4) for m in hits}
    row = {d: i for i, d in enumerate(ids)}
    for rep in range(reps):
        drawn = sampling.draw(ids, n, rep, strata if design == "stratified" else None)
        pop = Population(ids, pred, pred, strata if design == "stratified" else [""] * len(ids),
                         [()] * len(ids))
        verified = {d: y[row[d]] for d in drawn.doc_ids}
        for share in estimate_shares(codes, pop, verified).rows:
            j = codes.index(share.code)
            hits[share.method][j] += share.low <= truth[j] <= share.high
            width[share.method][j] += share.high - share.low
    return {"coverage": {m: float(h.min() / reps) for m, h in hits.items()},
            "width": {m: float(w.mean() / reps) for m, w in width.items()}}


@pytest.mark.parametrize("design", ["simple", "stratified"])
def test_ppi_intervals_cover_the_known_truth(design: str) -> None:
    result = _coverage(design)
    assert result["coverage"]["ppi"] >= 0.92, result
    assert result["coverage"]["classify-and-count"] <= 0.2, result
    assert result["width"]["ppi"] < 0.9 * result["width"]["sample-only"], result


def test_estimates_do_not_depend_on_input_order() -> None:
    ids, y, pred, strata = synthetic(1, 600)
    groups = [(s,) for s in strata]
    drawn = sampling.draw(ids, 80, 3, strata)
    row = {d: i for i, d in enumerate(ids)}
    verified = {d: y[row[d]] for d in drawn.doc_ids}
    first = estimate_shares(["a", "b", "c", "d"], Population(ids, pred, pred, strata, groups),
                            verified, group_names=["s"])
    perm = np.random.default_rng(9).permutation(len(ids))
    shuffled = Population([ids[i] for i in perm], pred[perm], pred[perm],
                          [strata[i] for i in perm], [groups[i] for i in perm])
    reversed_verified = dict(reversed(list(verified.items())))
    second = estimate_shares(["a", "b", "c", "d"], shuffled, reversed_verified, group_names=["s"])
    assert repr(first.rows) == repr(second.rows)  # exact, nan included
    assert {r.group for r in first.rows} == {("A",), ("B",)}
    again = sampling.draw([ids[i] for i in perm], 80, 3, [strata[i] for i in perm])
    assert again.doc_ids == drawn.doc_ids and again.design == drawn.design


def test_a_group_without_verified_documents_is_named() -> None:
    ids, y, pred, strata = synthetic(2, 300)
    groups = [("x",) if i < 295 else ("rare",) for i in range(300)]
    verified = {d: y[i] for i, d in enumerate(ids[:50])}
    pop = Population(ids, pred, pred, [""] * 300, groups)
    with pytest.raises(ReplicoderError, match=r"region=rare: 0 verified of 5 documents"):
        estimate_shares(["a", "b", "c", "d"], pop, verified, group_names=["region"])
    counted = estimate_shares(["a", "b", "c", "d"], pop, {}, methods=["classify-and-count"])
    assert len(counted.rows) == 8 and not counted.warnings


def test_a_label_absent_from_the_sample_is_warned_about() -> None:
    ids, y, pred, _ = synthetic(3, 300)
    keep = [d for i, d in enumerate(ids) if y[i, 3] == 0][:40]
    row = {d: i for i, d in enumerate(ids)}
    result = estimate_shares(["a", "b", "c", "d"], Population(ids, pred, pred, [""] * 300,
                                                              [()] * 300),
                             {d: y[row[d]] for d in keep}, names={"d": "Defence"})
    assert len(result.warnings) == 1
    assert "d (Defence)" in result.warnings[0] and "never occur among the 40" in \
        result.warnings[0]


def test_stratified_allocation_and_draw_errors() -> None:
    alloc = sampling.allocate({"a": 900, "b": 95, "c": 5}, 100)
    assert alloc == {"a": 89, "b": 9, "c": 2}
    assert sum(sampling.allocate({"a": 1, "b": 50}, 10).values()) == 10
    with pytest.raises(ReplicoderError, match="cannot give each of the 3 strata"):
        sampling.allocate({"a": 10, "b": 10, "c": 10}, 5)
    with pytest.raises(ReplicoderError, match="population of 3"):
        sampling.draw(["a", "b", "c"], 4, 0)
    with pytest.raises(ReplicoderError, match="appears twice"):
        sampling.draw(["a", "a", "c"], 1, 0)
    s = sampling.draw([f"d{i}" for i in range(100)], 10, 5, ["x"] * 60 + ["y"] * 40, "k")
    assert s.design["strata"] == {
        "x": {"population": 60, "sample": 6, "inclusion_probability": 0.1},
        "y": {"population": 40, "sample": 4, "inclusion_probability": 0.1}}
    assert s.strata.count("x") == 6
