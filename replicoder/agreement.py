"""Agreement between annotators: Cohen's kappa, Krippendorff's alpha, MASI, % all agree.

Pure numpy, no torch. A document's answer is a label set (``frozenset[str]``); for
single-label codebooks each set holds one code. Bootstrap intervals resample documents
(units) with replacement and take the 2.5 and 97.5 percentiles. A statistic that is
undefined (no variation at all, or too few documents) is ``nan``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from replicoder.codebook import Codebook
from replicoder.errors import ReplicoderError
from replicoder.store import Proposal

if TYPE_CHECKING:
    from replicoder.study import Study

__all__ = ["DISTANCES", "LEVEL", "agreement_from", "agreement_table", "alpha_with_interval",
           "cohen_kappa", "jaccard_distance", "kappa_with_interval", "krippendorff_alpha",
           "masi_distance", "nominal_distance", "share_all_agree"]

LabelSet = frozenset[str]
Units = dict[str, dict[str, LabelSet]]  # unit (document) -> coder (annotator) -> labels
LEVEL = 0.95


def masi_distance(a: LabelSet, b: LabelSet) -> float:
    """1 - Jaccard x monotonicity (Passonneau 2006): weight 1 if a == b, 2/3 if one
    contains the other, 1/3 if they overlap otherwise, 0 if disjoint.

    Same as nltk 3.10's ``masi_distance``; two empty sets are identical (distance 0).
    """
    if a == b:
        return 0.0
    inter, union = len(a & b), len(a | b)
    if inter == min(len(a), len(b)):
        weight = 2 / 3
    elif inter > 0:
        weight = 1 / 3
    else:
        weight = 0.0
    return 1.0 - inter / union * weight


def jaccard_distance(a: LabelSet, b: LabelSet) -> float:
    return 0.0 if a == b else 1.0 - len(a & b) / len(a | b)


def nominal_distance(a: Hashable, b: Hashable) -> float:
    return 0.0 if a == b else 1.0


DISTANCES: dict[str, Callable[[Any, Any], float]] = {
    "nominal": nominal_distance, "masi": masi_distance, "jaccard": jaccard_distance,
}


def _distance(name: str) -> Callable[[Any, Any], float]:
    if name not in DISTANCES:
        raise ReplicoderError(f"unknown distance {name!r}; choose one of {', '.join(DISTANCES)}")
    return DISTANCES[name]


def _kappa_from(pa: np.ndarray, pb: np.ndarray, agree: np.ndarray) -> np.ndarray:
    """Kappa per row of counts: ``pa``, ``pb`` (B, V) marginals, ``agree`` (B,) matches."""
    n = pa.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        po = agree / n
        pe = (pa * pb).sum(axis=1) / (n * n)
        out: np.ndarray = (po - pe) / (1.0 - pe)
    return out


def _codes(a: Sequence[Hashable], b: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray, int]:
    index: dict[Hashable, int] = {}
    ia = np.array([index.setdefault(x, len(index)) for x in a], dtype=np.int64)
    ib = np.array([index.setdefault(x, len(index)) for x in b], dtype=np.int64)
    return ia, ib, len(index)


def cohen_kappa(a: Sequence[LabelSet], b: Sequence[LabelSet]) -> float:
    """Cohen's kappa of two coders over the same documents; each distinct set is a category
    (for single-label data this equals sklearn's ``cohen_kappa_score``)."""
    if len(a) != len(b):
        raise ValueError(f"the two coders have {len(a)} and {len(b)} answers")
    if not a:
        return math.nan
    ia, ib, v = _codes(a, b)
    pa = np.bincount(ia, minlength=v)[None, :].astype(float)
    pb = np.bincount(ib, minlength=v)[None, :].astype(float)
    return float(_kappa_from(pa, pb, np.array([float((ia == ib).sum())]))[0])


def _bootstrap(n_units: int, n_boot: int, seed: int,
               stat: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``stat`` of ``n_boot`` resamples of units with replacement.

    ``stat`` maps a (b, n_units) matrix of multiplicities to (b,) values; resamples are
    drawn in chunks so memory stays bounded for large studies.
    """
    rng = np.random.default_rng(seed)
    p = np.full(n_units, 1.0 / n_units)
    chunk = max(1, min(n_boot, 2_000_000 // max(n_units, 1)))
    out: list[np.ndarray] = []
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        out.append(stat(rng.multinomial(n_units, p, size=size).astype(float)))
    return np.concatenate(out)


def _interval(samples: np.ndarray) -> tuple[float, float]:
    ok = samples[np.isfinite(samples)]
    if ok.size == 0:
        return math.nan, math.nan
    lo, hi = np.percentile(ok, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return float(lo), float(hi)


def _onehot(index: np.ndarray, v: int) -> sparse.csr_array:
    return sparse.csr_array((np.ones(len(index)), (np.arange(len(index)), index)),
                            shape=(len(index), v))


def _weighted(weights: np.ndarray, matrix: sparse.csr_array) -> np.ndarray:
    """``weights @ matrix`` for a sparse (U, V) matrix: (B, V) dense."""
    out: np.ndarray = np.asarray(matrix.T @ weights.T).T
    return out


def kappa_with_interval(a: Sequence[LabelSet], b: Sequence[LabelSet], n_boot: int = 1000,
                        seed: int = 0) -> tuple[float, tuple[float, float]]:
    """Cohen's kappa and its bootstrap interval (documents resampled)."""
    value = cohen_kappa(a, b)
    if not a or n_boot <= 0:
        return value, (math.nan, math.nan)
    ia, ib, v = _codes(a, b)
    onehot_a, onehot_b = _onehot(ia, v), _onehot(ib, v)
    same = (ia == ib).astype(float)

    def stat(w: np.ndarray) -> np.ndarray:
        return _kappa_from(_weighted(w, onehot_a), _weighted(w, onehot_b), w @ same)

    return value, _interval(_bootstrap(len(a), n_boot, seed, stat))


class _Coincidences:
    """Krippendorff's alpha from per-unit value counts, ready for a weighted bootstrap.

    ``counts`` (U, V) sparse: how often unit u got value v; ``delta`` (V, V): distances
    between the distinct values; ``observed`` (U,): each unit's sum of distances over
    ordered pairs of its values / (m_u - 1); ``m`` (U,): values per unit.
    """

    def __init__(self, units: Units, distance: str) -> None:
        dist = _distance(distance)
        index: dict[LabelSet, int] = {}
        rows: list[list[int]] = [
            [index.setdefault(v, len(index)) for v in coders.values()]
            for coders in units.values() if len(coders) >= 2
        ]
        self.values = list(index)
        v = len(self.values)
        self.delta = np.array([[dist(x, y) for y in self.values] for x in self.values],
                              dtype=float).reshape(v, v)
        unit_of = np.array([u for u, row in enumerate(rows) for _ in row], dtype=np.int64)
        value_of = np.array([x for row in rows for x in row], dtype=np.int64)
        self.counts = sparse.csr_array((np.ones(len(unit_of)), (unit_of, value_of)),
                                       shape=(len(rows), v))
        self.m = np.array([len(row) for row in rows], dtype=float)
        pairs = np.array([(u, x, y) for u, row in enumerate(rows)
                          for x, y in itertools.permutations(row, 2)],
                         dtype=np.int64).reshape(-1, 3)
        pair_sums = np.bincount(pairs[:, 0], weights=self.delta[pairs[:, 1], pairs[:, 2]],
                                minlength=len(rows))
        self.observed = pair_sums / np.maximum(self.m - 1, 1)

    @property
    def n_units(self) -> int:
        return int(self.counts.shape[0])

    def alpha(self, weights: np.ndarray) -> np.ndarray:
        """Alpha for each row of unit weights (B, U)."""
        if self.n_units == 0:
            return np.full(weights.shape[0], math.nan)
        n = weights @ self.m
        totals = _weighted(weights, self.counts)
        expected_sum = ((totals @ self.delta) * totals).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            d_o = (weights @ self.observed) / n
            d_e = expected_sum / (n * (n - 1))
            out: np.ndarray = np.where(d_e > 0, 1.0 - d_o / d_e, math.nan)
        return out


def krippendorff_alpha(units: Units, distance: str = "nominal") -> float:
    """Krippendorff's alpha over all coders; units coded by fewer than 2 coders are ignored.

    ``distance``: "nominal" (sets equal or not), "masi" or "jaccard" (set distances).
    ``nan`` when there is no variation at all (alpha is undefined then).
    """
    table = _Coincidences(units, distance)
    return float(table.alpha(np.ones((1, table.n_units)))[0])


def alpha_with_interval(units: Units, distance: str = "nominal", n_boot: int = 1000,
                        seed: int = 0) -> tuple[float, tuple[float, float], int]:
    """Alpha, its bootstrap interval (units resampled) and the number of pairable units."""
    table = _Coincidences(units, distance)
    value = float(table.alpha(np.ones((1, table.n_units)))[0])
    if table.n_units == 0 or n_boot <= 0:
        return value, (math.nan, math.nan), table.n_units
    return value, _interval(_bootstrap(table.n_units, n_boot, seed, table.alpha)), table.n_units


def share_all_agree(units: Units, n_boot: int = 1000,
                    seed: int = 0) -> tuple[float, tuple[float, float], int]:
    """Share of units (with >= 2 coders) where every coder gave the same set, with interval."""
    same = np.array([len(set(c.values())) == 1 for c in units.values() if len(c) >= 2],
                    dtype=float)
    if same.size == 0:
        return math.nan, (math.nan, math.nan), 0
    value = float(same.mean())
    if n_boot <= 0:
        return value, (math.nan, math.nan), int(same.size)
    samples = _bootstrap(same.size, n_boot, seed, lambda w: w @ same / same.size)
    return value, _interval(samples), int(same.size)


def _units(proposals: Iterable[Proposal], annotators: Sequence[str]) -> Units:
    wanted = set(annotators)
    units: Units = {}
    for p in proposals:
        if p.status == "ok" and p.annotator in wanted:
            units.setdefault(p.doc_id, {})[p.annotator] = p.labels
    return units


def _stat(value: float, ci: tuple[float, float], n: int) -> dict[str, Any]:
    return {"value": value, "ci": list(ci), "n": n}


def agreement_from(proposals: Iterable[Proposal], annotators: Sequence[str], *,
                   codebook: Codebook, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The agreement table of these annotators' proposals; see :func:`agreement_table`."""
    props = list(proposals)
    units = _units(props, annotators)
    documents = {p.doc_id for p in props if p.annotator in set(annotators)}
    pairs = []
    for i, a in enumerate(annotators):
        for b in annotators[i + 1:]:
            both = [c for c in units.values() if a in c and b in c]
            value, ci = kappa_with_interval([c[a] for c in both], [c[b] for c in both],
                                            n_boot, seed)
            pairs.append({"a": a, "b": b, **_stat(value, ci, len(both))})
    distance = "masi" if codebook.multi_label else "nominal"
    value, ci, n = alpha_with_interval(units, distance, n_boot, seed)
    per_label = []
    if codebook.multi_label:
        for lab in codebook.labels:
            proposed = sum(lab.code in s for c in units.values() for s in c.values())
            if not proposed:
                continue
            binary = {d: {k: s & {lab.code} for k, s in c.items()} for d, c in units.items()}
            v, lci, ln = alpha_with_interval(binary, "nominal", n_boot, seed)
            per_label.append({"code": lab.code, "name": lab.name, "proposed": proposed,
                              **_stat(v, lci, ln)})
    share, sci, sn = share_all_agree(units, n_boot, seed)
    return {
        "annotators": list(annotators),
        "multi_label": codebook.multi_label,
        "n_documents": len(documents),
        "missing": {a: sum(a not in units.get(d, {}) for d in documents) for a in annotators},
        "kappa": pairs,
        "alpha": {"distance": distance, **_stat(value, ci, n)},
        "alpha_per_label": per_label,
        "all_agree": _stat(share, sci, sn),
        "n_boot": n_boot, "seed": seed, "level": LEVEL,
    }


def agreement_table(study: Study, annotators: Sequence[str] | None = None,
                    n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Agreement of a study's annotators (default: all with proposals), from ``proposals``.

    Returns a JSON-ready dict: ``kappa`` (one entry per pair: a, b, value, ci, n),
    ``alpha`` (nominal for single-label codebooks, MASI for multi-label ones),
    ``alpha_per_label`` (multi-label only: each proposed label as a binary item),
    ``all_agree`` (share of documents with >= 2 answers where all are the same set),
    ``missing`` (per annotator: documents without a usable answer), ``n_documents``.
    Answers with status other than "ok" count as missing. Values may be ``nan``.
    """
    with study.store() as store:
        known = store.annotators()
        props = store.proposals()
    if not known:
        raise ReplicoderError(
            f"{study.root}: no proposals yet; define at least two annotators in "
            "replicoder.toml and run `replicoder annotate` first"
        )
    names = list(dict.fromkeys(annotators)) if annotators else known
    unknown = [a for a in names if a not in known]
    if unknown:
        raise ReplicoderError(
            f"--annotator {unknown[0]}: no proposals from that annotator in {study.db_path}; "
            f"annotators with proposals: {', '.join(known)}"
        )
    if len(names) < 2:
        raise ReplicoderError(
            f"agreement needs at least two annotators; got {', '.join(names)}. "
            "Name more with --annotator, or define more annotators in replicoder.toml and run "
            "`replicoder annotate`"
        )
    table = agreement_from(props, names, codebook=study.codebook, n_boot=n_boot, seed=seed)
    from replicoder.annotate.repeats import base_name, stability

    chosen = {base_name(a) for a in names}
    table["stability"] = stability([p for p in props if base_name(p.annotator) in chosen],
                                   study.codebook, n_boot, seed)
    return table
