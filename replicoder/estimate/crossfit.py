"""DSL's first step: the predicted outcome, calibrated on the verified sample by cross-fitting.

Design-based supervised learning (Egami, Hinck, Stewart, Wei, NeurIPS 2023, section 3)
does not put the classifier's raw answer ``yhat`` into its pseudo-outcome
``g + R/pi (y - g)``: ``g = E[y | yhat, x]`` is a supervised model of the verified outcome
given the prediction and the covariates, fitted on the verified sample with cross-fitting so
that no document's ``g`` was fitted on its own verified label. Any such ``g`` keeps the
pseudo-outcome unbiased for ``y`` (the sample is random with known ``pi``), so the
intervals stay valid; a ``g`` close to ``E[y | yhat, x]`` makes the residual ``y - g``, and
with it the interval, smaller than the sample-only fit's residual ``y - mu(x'beta)``.

With the raw ``yhat`` (``g = yhat``) the correction of a topic the classifier codes poorly
is a sum of a few ``+-1/pi`` terms (every misclassified sampled document), and a sample
with a few more false positives than usual in one covariate cell drives that cell's
corrected total near zero, where the logit's Jacobian vanishes: in the bill benchmark
(bench/results/regress.json, topic 20, n = 200) the mean DSL logit interval was 1.3-1.4
times sample-only's. The calibrated ``g`` (0.7 rather than 1 for a predicted positive
that is right 70% of the time) balances those terms against the true positives', and the
interval is narrower than sample-only's in every cell of the benchmark.

``g`` here is a ridge-penalised logistic regression of ``y`` on ``yhat`` and the
covariates (standardised), ``FOLDS``-fold cross-fitted as in the ``dsl`` R package: every
document falls in one fold (by a hash of its id and a fixed seed, so a re-run, or the same
file in another row order, gives the same numbers), and fold
``k``'s ``g`` is fitted on the verified documents outside fold ``k`` (with clusters, a
fold holds whole clusters). Documents whose label humans verified before the sample
(``exact``) keep it as ``g``.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["FOLDS", "PENALTY", "SEED", "cross_fitted"]

FOLDS = 5
SEED = 0
PENALTY = 1.0  # L2 penalty on the standardised slopes (sklearn's default C = 1)
INTERCEPT_PENALTY = 1e-2  # only keeps the intercept finite when a fold has no positive
MAX_ITER = 50


def cross_fitted(x: np.ndarray, yhat: np.ndarray, rows: np.ndarray, y: np.ndarray,
                 exact: np.ndarray | None = None, keys: np.ndarray | None = None,
                 folds: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """``g`` for all N documents: ``x`` (N, p) covariates with the intercept first,
    ``yhat`` (N,) predictions, ``rows`` (n,) the verified rows, ``y`` (n,) their outcomes,
    ``exact`` (N,) True where ``yhat`` is itself a verified label, ``keys`` (N,) document
    ids that fix the folds (without them, a seeded permutation of the rows)."""
    n_all = len(yhat)
    exact = np.zeros(n_all, dtype=bool) if exact is None else np.asarray(exact, dtype=bool)
    z = np.column_stack([np.ones(n_all), yhat, x[:, 1:]])
    fold = _folds(n_all, keys, max(folds, 2), seed)
    in_sample = np.zeros(n_all, dtype=bool)
    in_sample[rows] = True
    train_ok = ~exact[rows]
    g = np.asarray(yhat, dtype=np.float64).copy()
    for k in range(max(folds, 2)):
        target = (fold == k) & ~exact
        if not target.any():
            continue
        use = train_ok & (fold[rows] != k)
        coef, centre, scale = _ridge_logit(z[rows[use]], y[use])
        g[target] = _predict(z[target], coef, centre, scale)
    return g


def _folds(n_all: int, keys: np.ndarray | None, folds: int, seed: int) -> np.ndarray:
    if keys is None:
        return np.random.default_rng(seed).permutation(n_all) % folds
    return np.asarray([int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8],
                                      "big") % folds for key in keys])


def _standardised(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    centre = z.mean(0)
    scale = z.std(0)
    centre[0], scale[0] = 0.0, 1.0
    scale = np.where(scale > 0, scale, 1.0)
    return (z - centre) / scale, centre, scale


def _predict(z: np.ndarray, coef: np.ndarray, centre: np.ndarray, scale: np.ndarray
             ) -> np.ndarray:
    eta = ((z - centre) / scale) @ coef
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(eta, -35.0, 35.0))))


def _ridge_logit(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton steps for the L2-penalised logistic regression (the intercept barely);
    the penalty keeps it finite when a fold separates the outcome."""
    zs, centre, scale = _standardised(z)
    p = zs.shape[1]
    if len(y) == 0:
        return np.zeros(p), centre, scale
    penalty = np.full(p, PENALTY)
    penalty[0] = INTERCEPT_PENALTY
    mean = float(np.clip(y.mean(), 0.5 / (len(y) + 1), 1 - 0.5 / (len(y) + 1)))
    coef = np.zeros(p)
    coef[0] = np.log(mean / (1 - mean))
    loss = _loss(zs, y, coef, penalty)
    for _ in range(MAX_ITER):
        mu = 1.0 / (1.0 + np.exp(-np.clip(zs @ coef, -35.0, 35.0)))
        grad = zs.T @ (y - mu) - penalty * coef
        hess = zs.T @ ((mu * (1 - mu))[:, None] * zs) + np.diag(penalty) + 1e-9 * np.eye(p)
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-6:  # halve the step until the penalised loss falls
            new = _loss(zs, y, coef + size * step, penalty)
            if new <= loss:
                break
            size /= 2
        coef, loss = coef + size * step, new
        if np.abs(size * step).max() < 1e-10:
            break
    return coef, centre, scale


def _loss(zs: np.ndarray, y: np.ndarray, coef: np.ndarray, penalty: np.ndarray) -> float:
    eta = zs @ coef
    return float((np.logaddexp(0.0, eta) - y * eta).sum() + 0.5 * (penalty * coef**2).sum())
