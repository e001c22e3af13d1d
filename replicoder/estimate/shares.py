"""Label shares in a corpus and in its groups, by three methods (pure: no I/O, no torch).

- ``ppi``: stratified prediction-powered inference on the model's predicted label (Fisch et
  al., NeurIPS 2024; :func:`replicoder.estimate.ppi.poststratify`): the share is the population
  share the model labelled positive times the verified share positive among those, plus
  the share it labelled negative times the verified share it missed there. Each stratum
  gets a Wilson interval and MOVER combines them (:func:`replicoder.estimate.ppi.mover_sum`). The
  plain PPI/PPI++ CLT interval (one mean of rectifiers that are mostly 0) covered only
  0.78-0.84 for 2-3% topics with 100 verified documents in the Congress benchmark; this
  one covers >= 0.95 there and stays narrower than sample-only.
- ``classify-and-count``: the share of documents the model gave the label, with the interval
  one would compute if its answers were true (biased by its errors, too narrow).
- ``sample-only``: the share among the verified sample alone, Wilson interval per stratum
  (unbiased, wide).

A stratified sample is estimated stratum by stratum and weighted by the strata's population
sizes. Within a group (``--by``), each stratum-by-group cell is one stratum: its verified
documents are a random sample of the cell's documents. No finite-population correction:
the intervals are slightly conservative when the sample is a large part of a group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.estimate.ppi import Bounds, mover_sum, poststratify, wilson, z_value

__all__ = ["Population", "Share", "Shares", "estimate_shares"]

METHODS = ("ppi", "classify-and-count", "sample-only")
MIN_CELL = 2  # verified documents a cell needs for a variance


@dataclass(frozen=True)
class Population:
    """Every document of the corpus, rows in the same order in each field.

    ``predicted``: (N, L) what PPI uses (0/1 labels or scores); ``counted``: (N, L) the 0/1
    labels classify-and-count counts; ``strata`` the sample's stratum of each document;
    ``groups`` each document's values of the ``--by`` columns (``()`` for none).
    """

    doc_ids: Sequence[str]
    predicted: np.ndarray
    counted: np.ndarray
    strata: Sequence[str]
    groups: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class Share:
    group: tuple[str, ...]
    code: str
    method: str
    estimate: float
    low: float
    high: float
    se: float  # classify-and-count's standard error; otherwise (high - low) / (2 z)
    documents: int
    verified: int
    verified_with_label: int


@dataclass(frozen=True)
class Shares:
    rows: list[Share]
    warnings: list[str]


@dataclass(frozen=True)
class _Sorted:
    """The population in document-id order (so the result does not depend on the input's
    order) and the verified sample within it: ``sampled`` its rows in the population,
    ``y`` (n, L) its verified labels."""

    labelled: np.ndarray
    counted: np.ndarray
    strata: np.ndarray
    keys: list[tuple[str, ...]]
    key_of: np.ndarray
    sampled: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class _Cell:
    """One stratum of one group: its population rows, its sample's rows in the population
    and in ``y``."""

    stratum: str
    population: np.ndarray
    sampled: np.ndarray
    verified: np.ndarray


def _order(pop: Population) -> np.ndarray:
    return np.argsort(np.asarray(pop.doc_ids, dtype=object), kind="stable")


def estimate_shares(codes: Sequence[str], pop: Population, verified: Mapping[str, np.ndarray],
                    *, methods: Sequence[str] = METHODS, level: float = 0.95,
                    names: Mapping[str, str] | None = None,
                    group_names: Sequence[str] = ()) -> Shares:
    """Shares of every label (in ``codes`` order) overall or per group, per method.

    ``verified`` maps each verified sampled document to its 0/1 label vector. The result
    does not depend on the order of the documents.
    """
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ReplicoderError(f"--method {bad[0]}: choose from {', '.join(METHODS)}")
    z = z_value(level)
    data = _sorted(codes, pop, verified)
    cells = [_cells(data, k) for k in range(len(data.keys))]
    needs_sample = any(m != "classify-and-count" for m in methods)
    if needs_sample:
        _check_cells(data.keys, cells, group_names)
    rows = [row for k, group in enumerate(cells)
            for row in _group_shares(codes, data, k, group, methods, z)]
    return Shares(rows, _warnings(codes, data.y, names or {}) if needs_sample else [])


def _sorted(codes: Sequence[str], pop: Population,
            verified: Mapping[str, np.ndarray]) -> _Sorted:
    """``pop`` in id order with its groups numbered; refuses verified documents that are
    not in it."""
    order = _order(pop)
    ids = [pop.doc_ids[i] for i in order]
    groups = [pop.groups[i] for i in order]
    index = {d: i for i, d in enumerate(ids)}
    outside = sorted(d for d in verified if d not in index)
    if outside:
        raise ReplicoderError(
            f"{len(outside)} verified sampled documents (e.g. id {outside[0]!r}) are not among "
            "the predictions; classify the same documents the sample was drawn from")
    s_ids = sorted(verified)
    keys = sorted(set(groups))
    key_of = np.asarray([keys.index(g) for g in groups]) if len(keys) > 1 else \
        np.zeros(len(ids), dtype=np.int64)
    y = np.asarray([verified[d] for d in s_ids], dtype=np.float64).reshape(len(s_ids),
                                                                        len(codes))
    return _Sorted((pop.predicted[order] >= 0.5).astype(np.float64),
                   pop.counted[order].astype(np.float64),
                   np.asarray([pop.strata[i] for i in order], dtype=object), keys, key_of,
                   np.asarray([index[d] for d in s_ids], dtype=np.int64), y)


def _cells(data: _Sorted, k: int) -> list[_Cell]:
    """The strata of group ``k``, in order."""
    in_group = data.key_of == k
    out = []
    for h in sorted(set(data.strata[in_group].tolist())):
        pick = np.flatnonzero(in_group[data.sampled] & (data.strata[data.sampled] == h))
        out.append(_Cell(h, np.flatnonzero(in_group & (data.strata == h)),
                         data.sampled[pick], pick))
    return out


def _check_cells(keys: Sequence[tuple[str, ...]], cells: Sequence[Sequence[_Cell]],
                 group_names: Sequence[str]) -> None:
    """Refuse when a cell has too few verified documents for a variance."""
    short = [_describe(group_names, key, c.stratum, len(c.verified), len(c.population))
             for key, group in zip(keys, cells, strict=True) for c in group
             if len(c.verified) < MIN_CELL]
    if short:
        raise ReplicoderError(
            f"{len(short)} groups have fewer than {MIN_CELL} verified documents, so their "
            f"share cannot be estimated from the sample: {'; '.join(short[:5])}"
            f"{' ...' if len(short) > 5 else ''}. Draw a sample stratified by that column "
            "(`replicoder review sample N --strata COLUMN`), review more documents, group "
            "by a coarser column, or use --method classify-and-count alone")


def _group_shares(codes: Sequence[str], data: _Sorted, k: int, cells: Sequence[_Cell],
                  methods: Sequence[str], z: float) -> list[Share]:
    """Every label's share in group ``k`` by each method."""
    in_group = data.key_of == k
    n_docs = int(in_group.sum())
    n_ver = sum(len(c.verified) for c in cells)
    with_label = sum((data.y[c.verified].sum(0) for c in cells), np.zeros(len(codes)))
    results: dict[str, Bounds] = {}
    if "classify-and-count" in methods:
        results["classify-and-count"] = _counted(data.counted[in_group], n_docs, z)
    if any(m != "classify-and-count" for m in methods):
        results.update(_from_sample(methods, cells, data.y, data.labelled, n_docs, z))
    rows = []
    for method in [m for m in methods if m in results]:
        r = results[method]
        for j, code in enumerate(codes):
            low, high = float(r.low[j]), float(r.high[j])
            rows.append(Share(data.keys[k], code, method, float(r.estimate[j]), low, high,
                              (high - low) / (2 * z), n_docs, n_ver, int(with_label[j])))
    return rows


def _counted(counted: np.ndarray, n_docs: int, z: float) -> Bounds:
    """Classify-and-count: the share the model labelled, with a binomial interval."""
    share = counted.mean(0)
    se = z * np.sqrt(share * (1 - share) / n_docs)
    return Bounds(share, np.clip(share - se, 0, 1), np.clip(share + se, 0, 1))


def _from_sample(methods: Sequence[str], cells: Sequence[_Cell], y: np.ndarray,
                 labelled: np.ndarray, n_docs: int, z: float) -> dict[str, Bounds]:
    """PPI and sample-only shares of one group from its cells."""
    out: dict[str, Bounds] = {}
    cell_w = [len(c.population) / n_docs for c in cells]
    if "ppi" in methods:
        w, k, m = zip(*(poststratify(y[c.verified], labelled[c.sampled],
                                     labelled[c.population]) for c in cells), strict=True)
        weights = np.concatenate([wh * ww for wh, ww in zip(cell_w, w, strict=True)])
        out["ppi"] = mover_sum(weights, wilson(np.concatenate(k), np.concatenate(m), z))
    if "sample-only" in methods:
        k_cells = np.stack([y[c.verified].sum(0) for c in cells])
        m_cells = np.stack([np.full(y.shape[1], float(len(c.verified))) for c in cells])
        weights = np.repeat(np.asarray(cell_w)[:, None], y.shape[1], axis=1)
        out["sample-only"] = mover_sum(weights, wilson(k_cells, m_cells, z))
    return out


def _describe(group_names: Sequence[str], key: tuple[str, ...], stratum: str, n: int,
              size: int) -> str:
    where = ", ".join(f"{c}={v}" for c, v in zip(group_names, key, strict=False)) or "corpus"
    if stratum:
        where += f" (stratum {stratum})"
    return f"{where}: {n} verified of {size} documents"


def _warnings(codes: Sequence[str], y: np.ndarray, names: Mapping[str, str]) -> list[str]:
    absent = [c for j, c in enumerate(codes) if y.shape[0] and y[:, j].sum() == 0]
    if not absent or y.shape[0] == 0:
        return []
    listed = ", ".join(f"{c} ({names[c]})" if c in names else c for c in absent)
    return [
        f"{len(absent)} labels never occur among the {y.shape[0]} verified documents: "
        f"{listed}. Their intervals rest on zero verified occurrences (the upper limit is "
        "about 4 / the number verified); treat these shares as rough, or draw a larger "
        "sample (or one stratified by the predicted label)"
    ]
