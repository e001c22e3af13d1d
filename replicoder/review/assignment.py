"""Assign documents to coders, with a share reviewed by two coders to measure agreement."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from replicoder.errors import ReplicoderError
from replicoder.review.session import check_name
from replicoder.run import Run, now
from replicoder.study import Study

__all__ = ["AssignResult", "assign", "parse_coders"]


@dataclass(frozen=True)
class AssignResult:
    """``per_coder`` counts documents per coder; ``overlap_docs`` were given to two coders."""

    documents: int
    overlap_docs: int
    per_coder: dict[str, int]
    run_id: str
    order: dict[str, Any] = field(default_factory=dict)


def parse_coders(text: str) -> list[str]:
    coders = [c.strip() for c in text.split(",") if c.strip()]
    if not coders:
        raise ReplicoderError("--coders: give coder names separated by commas, e.g. a,b,c")
    for coder in coders:
        check_name(coder)
    dupes = sorted(c for c, n in Counter(coders).items() if n > 1)
    if dupes:
        raise ReplicoderError(f"--coders: {dupes[0]!r} is listed twice")
    return coders


def assign(study: Study, coders: Sequence[str], overlap: float = 0.2, *, seed: int | None = None,
           limit: int | None = None, only_proposed: bool = False,
           doc_ids: Sequence[str] | None = None, order: str = "default",
           model: str | None = None, batch: int = 20,
           refresh_every: int | None = None) -> AssignResult:
    """Give each document to one coder and a random ``overlap`` share to two coders.

    Documents are all of the study's (or those with LLM proposals, or the first ``limit`` of
    those in import order), shuffled with ``seed`` (default: the study's seed). Replaces any
    earlier assignment; decisions already made are kept. ``doc_ids``: assign only these
    documents (a validation sample). ``order``: the queue order
    (:mod:`replicoder.review.order`), recorded with its inputs.
    """
    from replicoder.review import order as ordering

    ordering.check_order(order, refresh_every, batch)
    if not 0.0 <= overlap <= 1.0:
        raise ReplicoderError(f"--overlap {overlap}: give a share between 0 and 1, e.g. 0.2")
    if overlap > 0 and len(coders) < 2:
        raise ReplicoderError("--overlap needs at least two coders (or use --overlap 0)")
    if limit is not None and limit < 1:
        raise ReplicoderError(f"--limit {limit}: give a positive number of documents")
    seed = study.seed if seed is None else seed
    with study.store() as store:
        for coder in coders:
            check_name(coder)
        docs = store.doc_ids()
        if doc_ids is not None:
            wanted = set(doc_ids)
            docs = [d for d in docs if d in wanted]
        if only_proposed:
            with_props = {p.doc_id for p in store.proposals()}
            docs = [d for d in docs if d in with_props]
        if limit is not None:
            docs = docs[:limit]
        if not docs:
            raise ReplicoderError(
                "no documents to assign: import documents first"
                + (" and run `replicoder annotate`" if only_proposed else "")
            )
        shuffled = list(docs)
        random.Random(seed).shuffle(shuffled)
        n_overlap = round(overlap * len(shuffled))
        load: Counter[str] = Counter({c: 0 for c in coders})
        pairs = list(itertools.combinations(coders, 2))
        chosen: list[tuple[str, str]] = []
        for i, doc_id in enumerate(shuffled):
            if i < n_overlap:
                who: Sequence[str] = pairs[i % len(pairs)]
            else:
                who = [min(coders, key=lambda c: (load[c], coders.index(c)))]
            for c in who:
                load[c] += 1
                chosen.append((doc_id, c))
        ordered = ordering.compute_order(study, store, order, docs, seed=seed, model=model,
                                         batch=batch)
        run = Run.start(study, "assign")
        with store.transaction():
            store.set_assignments(chosen, now(precise=True))
            ordered = ordering.record_order(store, run.run_id, order, ordered, refresh_every,
                                            model)
            run.write({"order": ordered.inputs, "coders": list(coders), "overlap": overlap,
                       "assign_seed": seed,
                       "limit": limit, "only_proposed": only_proposed,
                       "documents": len(shuffled), "overlap_docs": n_overlap,
                       "per_coder": dict(load)}, store=store)
    return AssignResult(len(shuffled), n_overlap, dict(load), run.run_id, ordered.inputs)
