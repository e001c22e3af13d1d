"""Prediction-powered inference for means and shares (pure numpy: no I/O, no torch).

Shares (what ``replicoder estimate`` reports) use stratified PPI on the model's predicted
label, with small-sample intervals: see :func:`poststratify`, :func:`wilson` and
:func:`mover_sum`. The general PPI/PPI++ mean below is kept for continuous predictions and
as the benchmark's reference.

A mean (here: the share of documents that carry a label) is estimated from a few verified
labels ``y`` on a random sample, the model's predictions ``yhat`` on the same documents and
its predictions ``yhat_all`` on the whole population:

    theta = mean(lam * yhat_all) + mean(y - lam * yhat)

The second term (the "rectifier") removes the model's bias; ``lam`` weighs how much the
predictions are trusted. ``lam=1`` is PPI (Angelopoulos, Bates, Fannjiang, Jordan, Zrnic,
"Prediction-powered inference", Science 382, 2023), ``lam=0`` the classical estimate from
the sample alone, and ``lam=None`` the variance-minimising value of PPI++ (Angelopoulos,
Duchi, Zrnic, "PPI++: Efficient prediction-powered inference", arXiv:2311.01453, 2023),
clipped to [0, 1], one per coordinate. The formulas follow the reference implementation
``ppi_py.ppi_mean_ci`` (with ``lam_optim_mode="element"``), which we do not depend on
because it pulls in numba, statsmodels and gdown.

Stratified samples combine per-stratum estimates with the strata's population shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["Bounds", "MeanEstimate", "classical_mean", "combine_strata", "mover_sum",
           "poststratify", "ppi_mean", "tuned_lambda", "wilson", "z_value"]


@dataclass(frozen=True)
class MeanEstimate:
    """Per-coordinate estimates, standard errors and the ``lam`` each used."""

    estimate: np.ndarray
    se: np.ndarray
    lam: np.ndarray

    def interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Two-sided normal interval at ``level`` (e.g. 0.95)."""
        z = z_value(level)
        return self.estimate - z * self.se, self.estimate + z * self.se


def z_value(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level {level} must lie strictly between 0 and 1")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _2d(a: np.ndarray | Sequence[float]) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


def tuned_lambda(y: np.ndarray, yhat: np.ndarray, yhat_all: np.ndarray,
                 mode: str = "overall") -> np.ndarray:
    """PPI++'s variance-minimising ``lam``, clipped to [0, 1], one value for every
    coordinate (``mode="overall"``) or one per coordinate (``"element"``).

    lam = cov_n(y, yhat) / ((1 + n/N) * var(yhat over sample and population)), numerator
    and denominator summed over coordinates for "overall"; 0 where the predictions do not
    vary (nothing to learn from them).
    """
    y, yhat, yhat_all = _2d(y), _2d(yhat), _2d(yhat_all)
    n, big_n = y.shape[0], yhat_all.shape[0]
    cov = ((y - y.mean(0)) * (yhat - yhat.mean(0))).mean(0)
    pooled = np.concatenate([yhat, yhat_all], axis=0)
    var = pooled.var(0, ddof=1) if pooled.shape[0] > 1 else np.zeros(y.shape[1])
    denom = (1.0 + n / big_n) * var
    if mode == "overall":
        cov, denom = np.full(y.shape[1], cov.sum()), np.full(y.shape[1], denom.sum())
    elif mode != "element":
        raise ValueError(f"mode {mode!r}: 'overall' or 'element'")
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(denom > 0, cov / np.where(denom > 0, denom, 1.0), 0.0)
    return np.clip(lam, 0.0, 1.0)


def ppi_mean(y: np.ndarray | Sequence[float], yhat: np.ndarray | Sequence[float],
             yhat_all: np.ndarray | Sequence[float],
             lam: float | np.ndarray | None = None) -> MeanEstimate:
    """Prediction-powered estimate of the mean of ``y`` over the population.

    ``y`` and ``yhat``: (n, d) verified values and predictions on the sampled documents;
    ``yhat_all``: (N, d) predictions on the population. ``lam``: None tunes it (PPI++),
    1 is plain PPI, 0 the sample mean alone.
    """
    y, yhat, yhat_all = _2d(y), _2d(yhat), _2d(yhat_all)
    if y.shape != yhat.shape:
        raise ValueError(f"y {y.shape} and yhat {yhat.shape} differ in shape")
    if yhat_all.shape[1] != y.shape[1]:
        raise ValueError(f"yhat_all has {yhat_all.shape[1]} columns, y has {y.shape[1]}")
    if y.shape[0] < 1 or yhat_all.shape[0] < 1:
        raise ValueError("ppi_mean needs at least one verified and one predicted row")
    n, big_n = y.shape[0], yhat_all.shape[0]
    if lam is None:
        lams = tuned_lambda(y, yhat, yhat_all)
    else:
        lams = np.broadcast_to(np.asarray(lam, dtype=np.float64), (y.shape[1],)).copy()
    imputed = lams * yhat_all
    rectifier = y - lams * yhat
    estimate = imputed.mean(0) + rectifier.mean(0)
    se = np.sqrt(imputed.var(0) / big_n + rectifier.var(0) / n)
    return MeanEstimate(estimate, se, lams)


def classical_mean(y: np.ndarray | Sequence[float]) -> MeanEstimate:
    """The sample mean and its CLT standard error (PPI with ``lam=0``)."""
    y = _2d(y)
    return MeanEstimate(y.mean(0), np.sqrt(y.var(0) / y.shape[0]), np.zeros(y.shape[1]))


def combine_strata(parts: Sequence[MeanEstimate], sizes: Sequence[int]) -> MeanEstimate:
    """Stratified estimate: per-stratum estimates weighted by the strata's population sizes.

    theta = sum_h W_h theta_h, se = sqrt(sum_h W_h^2 se_h^2), W_h = N_h / sum N.
    ``lam`` is the weighted mean of the strata's (for reporting only).
    """
    if len(parts) != len(sizes) or not parts:
        raise ValueError("combine_strata needs one population size per stratum estimate")
    w = np.asarray(sizes, dtype=np.float64)
    if (w <= 0).any():
        raise ValueError("every stratum needs a positive population size")
    w = w / w.sum()
    estimate = sum(wh * p.estimate for wh, p in zip(w, parts, strict=True))
    var = sum(wh**2 * p.se**2 for wh, p in zip(w, parts, strict=True))
    lam = sum(wh * p.lam for wh, p in zip(w, parts, strict=True))
    return MeanEstimate(np.asarray(estimate), np.sqrt(np.asarray(var)), np.asarray(lam))


@dataclass(frozen=True)
class Bounds:
    """Per-coordinate point estimates and the limits of their interval."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray


def wilson(k: np.ndarray, m: np.ndarray, z: float) -> Bounds:
    """Wilson score interval for the proportions ``k / m`` (elementwise).

    Wilson (1927); recommended over the normal (Wald) interval for small ``m`` or
    proportions near 0 by Brown, Cai and DasGupta, Statistical Science 16, 2001: it stays
    inside [0, 1] and is not degenerate when ``k`` is 0 or ``m``. Where ``m`` is 0 the
    interval is its limit, [0, 1], and the estimate its centre, 0.5.
    """
    k, m = np.asarray(k, dtype=np.float64), np.asarray(m, dtype=np.float64)
    if (m < 0).any() or (k < 0).any() or (k > m).any():
        raise ValueError("wilson needs 0 <= k <= m")
    empty = m == 0
    m = np.where(empty, 1.0, m)
    p = np.where(empty, 0.5, k / m)
    denom = 1.0 + z * z / m
    centre = (p + z * z / (2.0 * m)) / denom
    half = z * np.sqrt(p * (1.0 - p) / m + z * z / (4.0 * m * m)) / denom
    low = np.where(empty, 0.0, np.clip(centre - half, 0.0, 1.0))
    return Bounds(p, low, np.where(empty, 1.0, np.clip(centre + half, 0.0, 1.0)))


def mover_sum(weights: np.ndarray, parts: Bounds) -> Bounds:
    """Interval for ``sum_h w_h theta_h`` (``w_h >= 0``, strata on axis 0) from each
    stratum's estimate and limits, by MOVER ("method of variance estimates recovery",
    Zou and Donner, Statistics in Medicine 27, 2008; Newcombe 1998 for two proportions):

        low  = theta - sqrt(sum_h w_h^2 (theta_h - low_h)^2)
        high = theta + sqrt(sum_h w_h^2 (high_h - theta_h)^2)

    It keeps the asymmetry of each stratum's interval (the Wilson interval of a rare label
    reaches further up than down), which a normal interval on the sum throws away.
    """
    w = np.asarray(weights, dtype=np.float64)
    if (w < 0).any():
        raise ValueError("mover_sum needs non-negative weights")
    estimate = (w * parts.estimate).sum(0)
    low = estimate - np.sqrt(((w * (parts.estimate - parts.low)) ** 2).sum(0))
    high = estimate + np.sqrt(((w * (parts.high - parts.estimate)) ** 2).sum(0))
    return Bounds(estimate, np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0))


def poststratify(y: np.ndarray, yhat: np.ndarray,
                 yhat_all: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified PPI of 0/1 labels on the predicted label, one pair of strata per column.

    Stratified PPI (Fisch, Maynez, Hofer, Dhingra, Globerson, Cohen, "Stratified
    prediction-powered inference for hybrid language model evaluation", NeurIPS 2024)
    with the strata "predicted 1" and "predicted 0": within a stratum the prediction is
    constant, so PPI there is the stratum's verified share, and the share is
    ``W_1 * PPV + W_0 * (false omission rate)`` with ``W`` the strata's population shares
    (known exactly: the model labelled every document). The rectifier's variance, which
    the unstratified CLT interval estimates from a handful of nonzero terms, is split into
    two binomial proportions that get exact-ish (Wilson) intervals.

    ``y``: (n, d) verified 0/1 labels of the sampled documents, ``yhat``: (n, d) their
    predicted 0/1 labels, ``yhat_all``: (N, d) the predicted labels of the population the
    sample was drawn from. Returns ``(weights, k, m)``, each (2, d): the strata's population
    shares, verified positives and sample sizes, for :func:`wilson` and :func:`mover_sum`.
    A stratum with no sampled document (a rare label the model predicted for none of the
    sample) gets :func:`wilson`'s limit for no data, 0.5 in [0, 1], so it widens the
    interval by its population share instead of being silently merged (merging put the
    predicted-negative documents' share on the whole group and biased rare labels down).
    """
    y, yhat, yhat_all = _2d(y) > 0.5, _2d(yhat) > 0.5, _2d(yhat_all) > 0.5
    if y.shape != yhat.shape or yhat_all.shape[1] != y.shape[1] or not y.shape[0]:
        raise ValueError("poststratify needs y and yhat of one shape (n >= 1) and yhat_all "
                         "with as many columns")
    share = yhat_all.mean(0)
    weights = np.stack([share, 1.0 - share])
    m = np.stack([yhat.sum(0), (~yhat).sum(0)]).astype(np.float64)
    k = np.stack([(y & yhat).sum(0), (y & ~yhat).sum(0)]).astype(np.float64)
    return weights, k, m
