"""Regressions on predicted labels, corrected by a verified random sample (pure numpy).

The outcome of a regression (OLS or logit) is a label's indicator for every document of a
corpus; a model predicted it (``yhat``) for all ``N`` documents, humans verified it (``y``)
on a random sample drawn with known inclusion probabilities ``pi`` (weights ``w = 1/pi``).
Every method solves one weighted estimating equation over the corpus,

    sum_i x_i (b_i - a_i mu(x_i' beta)) = 0,
    a_i = lam + (1 - lam) R_i w_i,     b_i = lam yhat_i + R_i w_i (y_i - lam yhat_i),

with ``R_i`` 1 for a sampled document, ``mu`` the identity (OLS) or the logistic function:

- ``dsl`` (``lam = 1``): design-based supervised learning (Egami, Hinck, Stewart, Wei,
  NeurIPS 2023): the regression of the pseudo-outcome ``g + R w (y - g)``, with ``g`` the
  paper's first step, ``E[y | yhat, x]`` fitted on the verified sample by cross-fitting
  (:mod:`replicoder.estimate.crossfit`), in place of ``yhat``;
- ``ppi`` (``lam`` tuned): PPI++ (Angelopoulos, Duchi, Zrnic 2024), the same equation with
  the ``lam`` in [0, 1] that minimises the summed variance of the coefficients;
- ``sample-only`` (``lam = 0``): the design-weighted regression of ``y`` on the sample;
- ``naive`` (``lam = 1``, no sample): the regression of ``yhat`` as if it were true.

Standard errors are the sandwich ``H^-1 (sum_g m_g m_g') H^-1`` with ``m`` each document's
(or, with clusters, each cluster's) contribution to the equation and ``H`` its Jacobian,
the variance DSL derives with ``R_i`` a Bernoulli(``pi_i``) draw (stratified samples:
``pi`` per stratum). Small-sample factors as statsmodels': ``n / (n - p)`` without
clusters, ``G / (G - 1) * (n - 1) / (n - p)`` with ``G`` clusters, ``n`` the verified
documents (all documents for ``naive``).

:func:`power` says how many verified documents a simple random sample needs for a target
standard error, from the variance components of a pilot sample.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.estimate.crossfit import cross_fitted

__all__ = ["INTERCEPT", "METHODS", "MODELS", "Data", "Fit", "PowerRow", "calibrated", "fit",
           "power", "solve", "tuned_lambda"]

MODELS = ("ols", "logit")
INTERCEPT = "(intercept)"  # the name of the constant term in tables and figures
METHODS = ("dsl", "ppi", "naive", "sample-only")
LAMBDAS = {"dsl": 1.0, "sample-only": 0.0}
MAX_ITER = 100


@dataclass(frozen=True)
class Data:
    """The corpus: ``x`` (N, p) covariates (with the intercept), ``yhat`` (N,) predicted
    outcomes, ``rows`` (n,) sampled rows of ``x``, ``y`` (n,) their verified outcomes,
    ``prob`` (n,) their inclusion probabilities, ``clusters`` (N,) cluster codes or None,
    ``exact`` (N,) True where ``yhat`` is a label humans verified (not a prediction),
    ``keys`` (N,) document ids: they fix DSL's cross-fitting folds whatever the row order."""

    x: np.ndarray
    yhat: np.ndarray
    rows: np.ndarray
    y: np.ndarray
    prob: np.ndarray
    clusters: np.ndarray | None = None
    exact: np.ndarray | None = None
    keys: np.ndarray | None = None


@dataclass(frozen=True)
class Fit:
    method: str
    coef: np.ndarray
    se: np.ndarray
    lam: float
    cov: np.ndarray
    df: np.ndarray  # effective degrees of freedom of each standard error

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Student t interval with each coefficient's effective degrees of freedom."""
        from scipy.stats import t

        q = t.ppf(0.5 + level / 2.0, self.df)
        return self.coef - q * self.se, self.coef + q * self.se


def _mu(model: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and its derivative for the linear predictor ``eta``."""
    if model == "ols":
        return eta, np.ones_like(eta)
    mu = 1.0 / (1.0 + np.exp(-np.clip(eta, -35.0, 35.0)))
    return mu, mu * (1.0 - mu)


def solve(x: np.ndarray, a: np.ndarray, b: np.ndarray, model: str) -> np.ndarray:
    """The ``beta`` with ``sum_i x_i (b_i - a_i mu(x_i' beta)) = 0`` (``a >= 0``)."""
    if model not in MODELS:
        raise ReplicoderError(f"--model {model}: choose ols or logit")
    if model == "ols":
        return _lstsq(x.T @ (a[:, None] * x), x.T @ b)
    beta = np.zeros(x.shape[1])
    for _ in range(MAX_ITER):
        mu, v = _mu(model, x @ beta)
        step = _lstsq(x.T @ ((a * v)[:, None] * x), x.T @ (b - a * mu))
        beta = beta + step
        if np.abs(step).max() < 1e-10 * (1.0 + np.abs(beta).max()):
            break
        if np.abs(beta).max() > 30.0:
            break
    else:
        raise ReplicoderError("the logit fit did not converge in 100 steps; use --model ols")
    if np.abs(beta).max() > 30.0:
        raise ReplicoderError(
            "the logit fit diverges (a coefficient passed 30 on the log-odds scale): the "
            "outcome is (nearly) perfectly separated by a covariate, e.g. no verified "
            "document of some category has the label. Use --model ols, merge rare "
            "categories, or verify more documents")
    return beta


def _lstsq(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    if np.linalg.matrix_rank(h) < h.shape[0]:
        raise ReplicoderError(
            "the covariates are collinear among the documents this fit uses (a category "
            "that no verified document has, or a covariate that is a combination of "
            "others); drop or merge covariates, or verify more documents")
    return np.asarray(np.linalg.solve(h, g))


def _weights(d: Data, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` of the estimating equation over the N documents."""
    w = np.zeros(len(d.yhat))
    w[d.rows] = 1.0 / d.prob
    y_full = np.zeros(len(d.yhat))
    y_full[d.rows] = d.y
    return lam + (1.0 - lam) * w, lam * d.yhat + w * (y_full - lam * d.yhat)


def _factor(n: int, p: int, groups: int | None) -> float:
    if n <= p:
        raise ReplicoderError(f"{n} verified documents cannot estimate {p} coefficients; "
                              "verify more documents or use fewer covariates")
    if groups is None:
        return n / (n - p)
    if groups < 2:
        raise ReplicoderError("--cluster: the documents used fall in fewer than 2 clusters")
    return groups / (groups - 1) * (n - 1) / (n - p)


def _sandwich(x: np.ndarray, a: np.ndarray, b: np.ndarray, beta: np.ndarray, model: str,
              clusters: np.ndarray | None, drawn: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H^-1, sum of outer products of the contributions, degrees of freedom).

    The variance of coefficient j is ``V = sum_g c_gj``, ``c_gj`` the squared j-th entry
    of ``H^-1 m_g``. The terms of sampled documents are random (a document is in the sample
    with probability ``pi``); ``drawn`` holds ``1 - pi`` for them, 0 for the others.
    Satterthwaite's degrees of freedom ``2 V^2 / sum_g drawn_g c_gj^2`` (the variance of
    V under Bernoulli sampling, estimated from the sample) turn the few misclassified
    documents that carry a small sample's correction into a wider t interval; without
    sampled terms (naive) the interval is normal."""
    mu, v = _mu(model, x @ beta)
    h = x.T @ ((a * v)[:, None] * x)
    m = x * (b - a * mu)[:, None]
    if clusters is not None:
        _, inverse = np.unique(clusters, return_inverse=True)
        summed = np.zeros((int(inverse.max()) + 1, x.shape[1]))
        np.add.at(summed, inverse, m)
        m = summed
        most = np.zeros(len(summed))
        np.maximum.at(most, inverse, drawn)
        drawn = most
    h_inv = np.linalg.inv(h)
    c = (m @ h_inv) ** 2
    spread = (drawn[:, None] * c**2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(spread > 0, 2.0 * c.sum(0) ** 2 / np.where(spread > 0, spread, 1.0),
                      np.inf)
    return h_inv, m.T @ m, np.clip(df, 1.0, np.inf)


def _groups(d: Data, rows: np.ndarray) -> int | None:
    return None if d.clusters is None else len(np.unique(d.clusters[rows]))


def _fit_lam(d: Data, model: str, lam: float, method: str) -> Fit:
    a, b = _weights(d, lam)
    used = a != 0
    beta = solve(d.x[used], a[used], b[used], model)
    drawn = np.zeros(len(d.yhat))
    drawn[d.rows] = 1.0 - d.prob
    h_inv, meat, df = _sandwich(d.x[used], a[used], b[used], beta, model,
                                None if d.clusters is None else d.clusters[used], drawn[used])
    cov = h_inv @ meat @ h_inv * _factor(len(d.rows), d.x.shape[1], _groups(d, d.rows))
    return Fit(method, beta, np.sqrt(np.diag(cov)), lam, cov, df)


def tuned_lambda(d: Data, model: str) -> float:
    """PPI++'s ``lam`` in [0, 1]: the minimiser of the trace of the sandwich variance,
    at the DSL (``lam = 1``) coefficients, with the full-corpus Jacobian held fixed.

    With ``u_i = psihat_i (1 - R_i w_i)`` and ``r_i = R_i w_i psi_i`` (``psi`` the
    contributions of the verified, ``psihat`` of the predicted outcome), the contributions
    are ``lam u_i + r_i``, so the trace is quadratic in ``lam``.
    """
    a, b = _weights(d, 1.0)
    beta = solve(d.x, a, b, model)
    mu, v = _mu(model, d.x @ beta)
    h_inv = np.linalg.inv(d.x.T @ (v[:, None] * d.x))
    w = np.zeros(len(d.yhat))
    w[d.rows] = 1.0 / d.prob
    y_full = np.zeros(len(d.yhat))
    y_full[d.rows] = d.y
    u = d.x * ((d.yhat - mu) * (1.0 - w))[:, None]
    r = d.x * (w * (y_full - mu))[:, None]
    if d.clusters is not None:
        _, inverse = np.unique(d.clusters, return_inverse=True)
        su, sr = np.zeros((int(inverse.max()) + 1, d.x.shape[1])), \
            np.zeros((int(inverse.max()) + 1, d.x.shape[1]))
        np.add.at(su, inverse, u)
        np.add.at(sr, inverse, r)
        u, r = su, sr
    hu, hr = u @ h_inv, r @ h_inv  # rows: H^-1 u_g (H symmetric)
    quad = float((hu * hu).sum())
    cross = float((hu * hr).sum())
    if quad <= 0:
        return 0.0
    return float(np.clip(-cross / quad, 0.0, 1.0))


def fit(d: Data, model: str, method: str) -> Fit:
    """One method's coefficients, standard errors and covariance."""
    if method not in METHODS:
        raise ReplicoderError(f"--method {method}: choose from {', '.join(METHODS)}")
    if method == "naive":
        a, b = np.ones(len(d.yhat)), d.yhat.astype(np.float64)
        beta = solve(d.x, a, b, model)
        h_inv, meat, df = _sandwich(d.x, a, b, beta, model, d.clusters, np.zeros(len(a)))
        groups = None if d.clusters is None else len(np.unique(d.clusters))
        cov = h_inv @ meat @ h_inv * _factor(len(d.yhat), d.x.shape[1], groups)
        return Fit(method, beta, np.sqrt(np.diag(cov)), 1.0, cov, df)
    if method == "dsl":
        return _fit_lam(calibrated(d), model, 1.0, method)
    lam = LAMBDAS[method] if method in LAMBDAS else tuned_lambda(d, model)
    return _fit_lam(d, model, lam, method)


def calibrated(d: Data) -> Data:
    """DSL's data: ``yhat`` replaced by ``g``, its cross-fitted calibration on the verified
    sample (:func:`replicoder.estimate.crossfit.cross_fitted`). With clusters the folds are
    whole clusters, so that no document's ``g`` was fitted on documents whose errors it
    shares."""
    keys = d.clusters if d.clusters is not None else d.keys
    return replace(d, yhat=cross_fitted(d.x, d.yhat, d.rows, d.y, d.exact, keys))


@dataclass(frozen=True)
class PowerRow:
    """Verified documents (simple random sample) needed for a target standard error."""

    term: int
    se_pilot: float
    se_all_verified: float  # the corrected estimator's floor: every document verified
    needed: float  # inf when even the whole corpus would not reach the target
    needed_sample_only: float


def power(d: Data, model: str, target_se: float, lam: float = 1.0) -> list[PowerRow]:
    """For every coefficient, the n of a simple random sample at which the corrected
    (``lam``) estimator's standard error reaches ``target_se``, and sample-only's.

    Per document the contributions are ``m = lam psihat + (R / pi) d`` with ``d = psi -
    lam psihat``, so with ``pi = n / N`` the variance is ``F + G / n``: ``F = (1/N)
    Hb^-1 (lam^2 A + lam (D + D')) Hb^-1``, ``G = Hb^-1 E[d d'] Hb^-1``, ``A = mean
    psihat psihat'`` (over the corpus), ``D = mean psihat d'`` and ``E[d d']`` (estimated
    from the pilot with its design weights), ``Hb`` the mean Jacobian. Sample-only needs
    ``Hb^-1 E[psi psi'] Hb^-1 / se^2``. No clusters, no small-sample factor. A target
    that needs more documents than the corpus has is unreachable (``inf``).
    """
    if target_se <= 0:
        raise ReplicoderError(f"--power {target_se}: give a positive standard error")
    n_all = len(d.yhat)
    a, b = _weights(d, lam)
    used = a != 0
    beta = solve(d.x[used], a[used], b[used], model)
    mu, v = _mu(model, d.x @ beta)
    hb_inv = np.linalg.inv(d.x.T @ (v[:, None] * d.x) / n_all)
    psihat = d.x * (d.yhat - mu)[:, None]
    xs, ws = d.x[d.rows], 1.0 / d.prob
    psi_s = xs * (d.y - mu[d.rows])[:, None]
    dd = psi_s - lam * psihat[d.rows]
    total = ws.sum()
    big_a = psihat.T @ psihat / n_all
    big_d = (psihat[d.rows] * ws[:, None]).T @ dd / total
    e_dd = (dd * ws[:, None]).T @ dd / total
    e_psi = (psi_s * ws[:, None]).T @ psi_s / total
    f = hb_inv @ (lam**2 * big_a + lam * (big_d + big_d.T)) @ hb_inv / n_all
    g = hb_inv @ e_dd @ hb_inv
    g0 = hb_inv @ e_psi @ hb_inv
    n_now = len(d.rows)
    rows = []
    for j in range(d.x.shape[1]):
        fj, gj = float(f[j, j]), float(g[j, j])
        floor = fj + gj / n_all
        need = gj / (target_se**2 - fj) if target_se**2 > fj else float("inf")
        alone = float(g0[j, j]) / target_se**2
        rows.append(PowerRow(j, float(np.sqrt(max(fj + gj / n_now, 0.0))),
                             float(np.sqrt(max(floor, 0.0))), _count(need, n_all),
                             _count(alone, n_all)))
    return rows


def _count(needed: float, n_all: int) -> float:
    return float(np.ceil(needed)) if np.isfinite(needed) and needed <= n_all else float("inf")
