"""Random validation samples: simple or stratified, drawn reproducibly (pure, no I/O).

The design (seed, size, strata with their population and sample sizes and inclusion
probabilities, a hash of the population's ids) is what an estimator needs to weigh the
verified documents; it is stored with the sample in study.db.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError

__all__ = ["ALL", "Sample", "allocate", "draw", "population_sha256"]

ALL = ""  # the one stratum of a simple random sample


@dataclass(frozen=True)
class Sample:
    """The drawn documents (sorted by id) with their strata, and the design that drew them."""

    doc_ids: list[str]
    strata: list[str]
    design: dict[str, Any]


def population_sha256(doc_ids: Sequence[str]) -> str:
    """A hash of the population's ids that does not depend on their order."""
    digest = hashlib.sha256()
    for doc_id in sorted(doc_ids):
        digest.update(doc_id.encode("utf-8") + b"\n")
    return digest.hexdigest()


def allocate(sizes: dict[str, int], n: int, minimum: int = 2) -> dict[str, int]:
    """Proportional allocation of ``n`` over strata (largest remainder), each stratum getting
    at least ``minimum`` documents (or all it has), so that every stratum can be estimated."""
    floor = {h: min(minimum, size) for h, size in sizes.items()}
    if sum(floor.values()) > n:
        raise ReplicoderError(
            f"a stratified sample of {n} cannot give each of the {len(sizes)} strata "
            f"{minimum} documents; draw at least {sum(floor.values())} or stratify by a "
            "column with fewer values"
        )
    total = sum(sizes.values())
    quota = {h: n * size / total for h, size in sizes.items()}
    alloc = {h: max(floor[h], min(sizes[h], int(q))) for h, q in quota.items()}
    order = sorted(sizes, key=lambda h: (-(quota[h] - int(quota[h])), h))
    while sum(alloc.values()) < n:
        grew = False
        for h in order:
            if sum(alloc.values()) >= n:
                break
            if alloc[h] < sizes[h]:
                alloc[h] += 1
                grew = True
        if not grew:
            break
    while sum(alloc.values()) > n:  # the minimums pushed it over: take from the largest
        h = max((h for h in alloc if alloc[h] > floor[h]), key=lambda h: (alloc[h], h))
        alloc[h] -= 1
    return alloc


def draw(doc_ids: Sequence[str], n: int, seed: int, strata: Sequence[str] | None = None,
         strata_column: str | None = None) -> Sample:
    """Draw ``n`` documents without replacement: simple random, or stratified by ``strata``
    (one value per document) with proportional allocation. The result does not depend on
    the order of ``doc_ids``."""
    if n < 1:
        raise ReplicoderError(f"sample size {n}: give a positive number of documents")
    if len(set(doc_ids)) != len(doc_ids):
        dupe = next(d for d, c in Counter(doc_ids).items() if c > 1)
        raise ReplicoderError(f"document id {dupe!r} appears twice in the population")
    if n > len(doc_ids):
        raise ReplicoderError(
            f"cannot draw {n} documents from a population of {len(doc_ids)}; draw at most "
            f"{len(doc_ids)}"
        )
    labels = [ALL] * len(doc_ids) if strata is None else [str(s) for s in strata]
    if len(labels) != len(doc_ids):
        raise ValueError("one stratum per document")
    pairs = sorted(zip(doc_ids, labels, strict=True))
    by_stratum: dict[str, list[str]] = {}
    for doc_id, h in pairs:
        by_stratum.setdefault(h, []).append(doc_id)
    sizes = {h: len(ids) for h, ids in sorted(by_stratum.items())}
    alloc = {ALL: n} if strata is None else allocate(sizes, n)
    rng = np.random.default_rng(seed)
    chosen: list[tuple[str, str]] = []
    for h in sorted(by_stratum):
        ids = by_stratum[h]
        picks = rng.choice(len(ids), size=alloc[h], replace=False)
        chosen.extend((ids[int(i)], h) for i in picks)
    chosen.sort()
    design = {
        "method": "simple" if strata is None else "stratified",
        "seed": seed, "size": n, "strata_column": strata_column,
        "population": len(doc_ids), "population_sha256": population_sha256(doc_ids),
        "strata": {h: {"population": sizes[h], "sample": alloc[h],
                       "inclusion_probability": alloc[h] / sizes[h]} for h in sizes},
    }
    return Sample([c[0] for c in chosen], [c[1] for c in chosen], design)
