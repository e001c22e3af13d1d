"""The regression estimators on synthetic data: against statsmodels where they must agree,
and their coverage of a known corpus coefficient."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from replicoder.errors import ReplicoderError
from replicoder.estimate.coefficients import design_matrix
from replicoder.estimate.crossfit import cross_fitted
from replicoder.estimate.regression import (
    Data,
    _fit_lam,
    calibrated,
    fit,
    power,
    solve,
    tuned_lambda,
)


def corpus(n_docs: int = 3000, seed: int = 0, accuracy: float = 0.85
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x (intercept, a normal covariate, a 0/1 group), true y, predicted y (errors depend
    on the covariate, so the naive slope is biased), cluster of each document."""
    rng = np.random.default_rng(seed)
    x1, g = rng.normal(size=n_docs), rng.integers(0, 2, n_docs)
    x = np.column_stack([np.ones(n_docs), x1, g])
    y = (rng.random(n_docs) < 1 / (1 + np.exp(-(-1 + 0.8 * x1 + 0.5 * g)))).astype(float)
    flip = rng.random(n_docs) > accuracy - 0.1 * (x1 > 0)
    yhat = np.where(flip, 1 - y, y)
    return x, y, yhat, rng.integers(0, 150, n_docs)


def srs(x: np.ndarray, y: np.ndarray, yhat: np.ndarray, n: int, seed: int,
        clusters: np.ndarray | None = None) -> Data:
    rows = np.sort(np.random.default_rng(seed).choice(len(y), n, replace=False))
    return Data(x, yhat, rows, y[rows], np.full(n, n / len(y)), clusters)


def glm(endog: np.ndarray, exog: np.ndarray, model: str) -> sm.GLM:
    family = sm.families.Gaussian() if model == "ols" else sm.families.Binomial()
    return sm.GLM(endog, exog, family=family)


@pytest.mark.parametrize("model", ["ols", "logit"])
def test_sample_only_and_naive_equal_statsmodels(model: str) -> None:
    x, y, yhat, clusters = corpus()
    d = srs(x, y, yhat, 400, 1)
    n, p = 400, 3
    ours = fit(d, model, "sample-only")
    theirs = glm(y[d.rows], x[d.rows], model).fit(cov_type="HC0")
    np.testing.assert_allclose(ours.coef, theirs.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.se, theirs.bse * np.sqrt(n / (n - p)), rtol=1e-6)
    naive = fit(d, model, "naive")
    ref = glm(yhat, x, model).fit(cov_type="HC0")
    np.testing.assert_allclose(naive.coef, ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(naive.se, ref.bse * np.sqrt(3000 / 2997), rtol=1e-6)
    if model == "ols":
        hc1 = sm.OLS(y[d.rows], x[d.rows]).fit(cov_type="HC1")
        np.testing.assert_allclose(ours.se, hc1.bse, rtol=1e-8)
    grouped = srs(x, y, yhat, 400, 1, clusters)
    kw = {"groups": clusters[grouped.rows]}
    clustered = glm(y[grouped.rows], x[grouped.rows], model).fit(cov_type="cluster",
                                                                 cov_kwds=kw)
    np.testing.assert_allclose(fit(grouped, model, "sample-only").se, clustered.bse, rtol=1e-6)
    whole = glm(yhat, x, model).fit(cov_type="cluster", cov_kwds={"groups": clusters})
    np.testing.assert_allclose(fit(grouped, model, "naive").se, whole.bse, rtol=1e-6)


def test_stratified_sample_only_is_weighted_least_squares() -> None:
    x, y, yhat, _ = corpus()
    rng = np.random.default_rng(5)
    stratum = (x[:, 2] == 1)  # oversample group 1: 300 of it, 100 of the rest
    rows = np.sort(np.concatenate([rng.choice(np.flatnonzero(stratum), 300, replace=False),
                                   rng.choice(np.flatnonzero(~stratum), 100, replace=False)]))
    prob = np.where(stratum[rows], 300 / stratum.sum(), 100 / (~stratum).sum())
    d = Data(x, yhat, rows, y[rows], prob)
    ours = fit(d, "ols", "sample-only")
    wls = sm.WLS(y[rows], x[rows], weights=1 / prob).fit(cov_type="HC1")
    np.testing.assert_allclose(ours.coef, wls.params, rtol=1e-8)
    np.testing.assert_allclose(ours.se, wls.bse, rtol=1e-8)
    unweighted = sm.OLS(y[rows], x[rows]).fit().params
    assert np.abs(unweighted - wls.params).max() > 1e-3  # the weights matter here


def test_dsl_is_the_regression_of_the_pseudo_outcome() -> None:
    """DSL regresses g + R/pi (y - g), g the cross-fitted calibration of the prediction."""
    x, y, yhat, _ = corpus()
    d = srs(x, y, yhat, 300, 2)
    g = cross_fitted(x, yhat, d.rows, d.y)
    pseudo = g.copy()
    pseudo[d.rows] += (y[d.rows] - g[d.rows]) / d.prob
    ours = fit(d, "ols", "dsl")
    np.testing.assert_allclose(ours.coef, sm.OLS(pseudo, x).fit().params, rtol=1e-8)
    assert ours.lam == 1.0
    perfect = Data(x, y, d.rows, y[d.rows], d.prob)
    for model in ("ols", "logit"):  # g is then nearly y: DSL lands on the naive fit
        near, naive = fit(perfect, model, "dsl"), fit(perfect, model, "naive")
        assert np.all(np.abs(near.coef - naive.coef) < 0.5 * near.se)


def test_tuned_lambda_lies_between_and_narrows() -> None:
    x, y, yhat, clusters = corpus(accuracy=0.95)
    d = srs(x, y, yhat, 300, 3)
    lam = tuned_lambda(d, "logit")
    assert 0.0 < lam <= 1.0
    ppi, dsl, alone = (fit(d, "logit", m) for m in ("ppi", "dsl", "sample-only"))
    assert ppi.lam == lam
    assert (ppi.se**2).sum() <= (dsl.se**2).sum() * 1.02
    assert (ppi.se**2).sum() < (alone.se**2).sum()
    noise = Data(x, np.random.default_rng(0).integers(0, 2, len(y)).astype(float), d.rows,
                 d.y, d.prob)
    assert tuned_lambda(noise, "logit") < 0.2  # useless predictions get little weight
    with_clusters = Data(x, yhat, d.rows, d.y, d.prob, clusters)
    assert 0.0 <= tuned_lambda(with_clusters, "ols") <= 1.0


@pytest.mark.parametrize("model", ["ols", "logit"])
def test_corrected_intervals_cover_the_corpus_coefficient(model: str) -> None:
    x, y, yhat, _ = corpus(n_docs=2000, seed=4, accuracy=0.85)
    truth = glm(y, x, model).fit().params
    hits = {m: np.zeros(3) for m in ("dsl", "ppi", "naive", "sample-only")}
    widths = {m: np.zeros(3) for m in hits}
    reps = 150
    for rep in range(reps):
        d = srs(x, y, yhat, 200, 100 + rep)
        for method in hits:
            f = fit(d, model, method)
            low, high = f.interval(0.95)
            hits[method] += (low <= truth) & (truth <= high)
            widths[method] += high - low
    for method in ("dsl", "ppi", "sample-only"):
        assert (hits[method] / reps).min() >= 0.89, (method, hits[method] / reps)
    assert (hits["naive"] / reps).min() < 0.5
    assert (widths["ppi"] < widths["sample-only"]).all()


def test_stratified_samples_are_weighted_by_their_inclusion_probabilities() -> None:
    """Group 1 sampled at 4 times the rate of group 0, and the model misses half its
    positives: with the design's probabilities the corrected intervals cover; with equal
    weights DSL on the raw prediction (g = yhat) over-corrects group 1 and misses its
    coefficient."""
    x, y, _, _ = corpus(n_docs=2000, seed=8)
    rng = np.random.default_rng(8)
    group = x[:, 2] == 1
    missed = group & (y == 1) & (rng.random(len(y)) < 0.5)
    yhat = np.where(missed | (rng.random(len(y)) < 0.05), 1 - y, y)
    truth = glm(y, x, "ols").fit().params
    sizes = {True: 400, False: 100}
    hits = {m: np.zeros(3) for m in ("dsl", "ppi", "sample-only")}
    flat_hits = np.zeros(3)
    reps = 150
    for rep in range(reps):
        r = np.random.default_rng(200 + rep)
        rows = np.sort(np.concatenate([r.choice(np.flatnonzero(group == g), k, replace=False)
                                       for g, k in sizes.items()]))
        prob = np.where(group[rows], 400 / group.sum(), 100 / (~group).sum())
        d = Data(x, yhat, rows, y[rows], prob)
        for method in hits:
            low, high = fit(d, "ols", method).interval(0.95)
            hits[method] += (low <= truth) & (truth <= high)
        flat = Data(x, yhat, rows, y[rows], np.full(len(rows), len(rows) / len(y)))
        low, high = _fit_lam(flat, "ols", 1.0, "dsl").interval(0.95)
        flat_hits += (low <= truth) & (truth <= high)
    for method in hits:
        assert (hits[method] / reps).min() >= 0.9, (method, hits[method] / reps)
    assert flat_hits[2] / reps < 0.5, flat_hits / reps  # equal weights, unequal draws


def test_clustered_errors_need_clustered_standard_errors() -> None:
    """60 members with 30 bills each; a member-level covariate, member effects in the
    outcome and member-specific error rates of the model; each repetition draws a new
    corpus, so the truth is the slope of the process (0.2): only the clustered intervals
    cover it."""
    hits = {"clustered": 0, "ppi clustered": 0, "unclustered": 0}
    reps = 150
    for rep in range(reps):
        rng = np.random.default_rng(rep)
        member = np.repeat(np.arange(60), 30)
        party = rng.integers(0, 2, 60)[member]
        p = 0.4 + 0.2 * party + rng.uniform(-0.25, 0.25, 60)[member]
        y = (rng.random(len(member)) < p).astype(float)
        yhat = np.where(rng.random(len(member)) < rng.uniform(0, 0.1, 60)[member], 1 - y, y)
        x = np.column_stack([np.ones(len(member)), party])
        rows = np.sort(rng.choice(len(member), 300, replace=False))
        prob = np.full(300, 300 / len(member))
        for key, clusters, method in (("clustered", member, "dsl"),
                                      ("ppi clustered", member, "ppi"),
                                      ("unclustered", None, "dsl")):
            low, high = fit(Data(x, yhat, rows, y[rows], prob, clusters), "ols",
                            method).interval(0.95)
            hits[key] += int(low[1] <= 0.2 <= high[1])
    assert hits["clustered"] / reps >= 0.92 and hits["ppi clustered"] / reps >= 0.92, hits
    assert hits["unclustered"] / reps < 0.88, hits


def test_satterthwaite_degrees_of_freedom() -> None:
    """Intercept only, sample-only: V = sum_i c_i with c_i = (w (y_i - mean) / sum w)^2,
    df = 2 V^2 / sum_i (1 - pi) c_i^2; the naive fit (no sampled term) is normal."""
    x = np.ones((12, 1))
    y = np.array([1.0, 0, 0, 0, 1, 0])
    d = Data(x, np.zeros(12), np.arange(6), y, np.full(6, 0.5))
    f = fit(d, "ols", "sample-only")
    c = (2 * (y - y.mean()) / 12) ** 2
    assert f.df[0] == pytest.approx(2 * c.sum() ** 2 / (0.5 * (c**2).sum()))
    assert f.se[0] ** 2 == pytest.approx(c.sum() * 6 / 5)
    low, high = f.interval(0.9)
    from scipy.stats import t

    assert high[0] - f.coef[0] == pytest.approx(t.ppf(0.95, f.df[0]) * f.se[0])
    naive = fit(Data(x, np.r_[y, y], np.arange(6), y, np.full(6, 0.5)), "ols", "naive")
    assert np.isinf(naive.df[0])
    assert naive.interval(0.95)[1][0] - naive.coef[0] == pytest.approx(1.959964 * naive.se[0])


def test_power_predicts_the_standard_error_of_a_larger_sample() -> None:
    x, y, yhat, _ = corpus(n_docs=6000, seed=6, accuracy=0.9)
    pilot = srs(x, y, yhat, 150, 7)
    target = 0.02
    rows = power(pilot, "ols", target)  # the formula, for the raw prediction (g = yhat)
    slope = rows[1]
    assert slope.se_all_verified < target < slope.se_pilot
    assert slope.needed_sample_only > slope.needed > 150
    n = int(slope.needed)
    se = np.mean([_fit_lam(srs(x, y, yhat, n, 50 + k), "ols", 1.0, "dsl").se[1]
                  for k in range(5)])
    assert se == pytest.approx(target, rel=0.15)
    # the cross-fitted DSL: its g improves with more verified documents than the pilot's,
    # so the prediction from the pilot is conservative (the larger sample does better)
    tuned = power(calibrated(pilot), "ols", target)[1]
    assert 150 < tuned.needed < slope.needed
    se = np.mean([fit(srs(x, y, yhat, int(tuned.needed), 50 + k), "ols", "dsl").se[1]
                  for k in range(5)])
    assert target * 0.7 < se < target * 1.15
    alone = np.mean([fit(srs(x, y, yhat, int(slope.needed_sample_only), 60 + k), "ols",
                         "sample-only").se[1] for k in range(5)])
    assert alone == pytest.approx(target, rel=0.15)
    assert np.isinf(power(pilot, "ols", slope.se_all_verified / 2)[1].needed)
    with pytest.raises(ReplicoderError, match="positive standard error"):
        power(pilot, "ols", 0.0)


def test_design_matrix_and_its_errors() -> None:
    x, names, refs = design_matrix({"chamber": ["S", "HR", "S", "HR"], "year": [1, 2, 3, 4]})
    assert names == ["(intercept)", "chamber=S", "year"] and refs == {"chamber": "HR"}
    assert x[:, 1].tolist() == [1, 0, 1, 0]
    x, names, refs = design_matrix({"year": ["2001", "1999", "2000", "2001"]},
                                   categorical=["year"], reference={"year": "2001"})
    assert names == ["(intercept)", "year=1999", "year=2000"]
    with pytest.raises(ReplicoderError, match="covariate 'chamber' is constant"):
        design_matrix({"chamber": ["S", "S"], "year": [1, 2]})
    with pytest.raises(ReplicoderError, match="covariate 'year' is constant"):
        design_matrix({"year": [3.0, 3.0, 3.0]})
    with pytest.raises(ReplicoderError, match="covariate 'year' has a missing or infinite "
                                              "value \\('inf', row 2\\)"):
        design_matrix({"year": ["1", "inf", "3"]})
    with pytest.raises(ReplicoderError, match="--reference chamber=X: no document"):
        design_matrix({"chamber": ["S", "HR"]}, reference={"chamber": "X"})
    with pytest.raises(ReplicoderError, match="'party' is not one of the covariates"):
        design_matrix({"chamber": ["S", "HR"]}, reference={"party": "D"})


def test_collinear_and_separated_fits_are_refused() -> None:
    x = np.column_stack([np.ones(6), [0, 1, 0, 1, 0, 1], [0, 2, 0, 2, 0, 2]])
    with pytest.raises(ReplicoderError, match="collinear"):
        solve(x, np.ones(6), np.ones(6) * 0.5, "ols")
    sep = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1]])
    with pytest.raises(ReplicoderError, match="perfectly separated"):
        solve(sep, np.ones(6), np.array([0, 0, 0, 1, 1, 1.0]), "logit")
    with pytest.raises(ReplicoderError, match="--model probit"):
        solve(sep, np.ones(6), np.ones(6), "probit")
    few = Data(sep, np.zeros(6), np.array([0, 3]), np.array([0.0, 1.0]), np.full(2, 1 / 3))
    with pytest.raises(ReplicoderError, match="2 verified documents cannot estimate 2"):
        fit(few, "ols", "sample-only")
