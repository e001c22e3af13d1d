"""Aggregates of the AI crowd's proposals: the union (for review) and the majority vote.

Only answers with status "ok" count; an unreadable answer ("unparsed") is a missing
answer, not an empty label set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from replicoder.predictions import Predictions
from replicoder.store import Proposal

__all__ = ["majority", "majority_predictions", "union"]


def _usable(proposals: Iterable[Proposal], annotators: Sequence[str] | None) -> list[Proposal]:
    wanted = set(annotators) if annotators is not None else None
    return [p for p in proposals if p.status == "ok" and (wanted is None or p.annotator in wanted)]


def union(proposals: Iterable[Proposal],
          annotators: Sequence[str] | None = None) -> dict[str, dict[str, list[str]]]:
    """doc_id -> code -> annotators that proposed it (sorted), for every label anyone proposed.

    A document whose answers were all empty sets maps to ``{}``; documents without any
    usable answer are absent.
    """
    out: dict[str, dict[str, list[str]]] = {}
    for p in _usable(proposals, annotators):
        codes = out.setdefault(p.doc_id, {})
        for code in p.labels:
            codes.setdefault(code, []).append(p.annotator)
    return {d: {c: sorted(a) for c, a in sorted(codes.items())} for d, codes in out.items()}


def majority(proposals: Iterable[Proposal],
             annotators: Sequence[str] | None = None) -> dict[str, frozenset[str]]:
    """doc_id -> labels proposed by more than half of the annotators that answered it.

    "Answered" means a usable ("ok") answer, so a failed request neither votes for nor
    against a label. Ties fail: with two annotators a label needs both; in a single-label
    study three annotators who all disagree give the empty set. Documents without any
    usable answer are absent.
    """
    answered: dict[str, int] = {}
    votes: dict[str, dict[str, int]] = {}
    for p in _usable(proposals, annotators):
        answered[p.doc_id] = answered.get(p.doc_id, 0) + 1
        doc_votes = votes.setdefault(p.doc_id, {})
        for code in p.labels:
            doc_votes[code] = doc_votes.get(code, 0) + 1
    return {
        doc: frozenset(c for c, k in votes[doc].items() if 2 * k > n)
        for doc, n in answered.items()
    }


def majority_predictions(proposals: Iterable[Proposal], codes: Sequence[str],
                         annotators: Sequence[str] | None = None,
                         name: str = "majority") -> Predictions:
    """The majority vote as :class:`Predictions` (no scores), documents in id order."""
    props = list(proposals)
    votes = majority(props, annotators)
    used = sorted({p.annotator for p in _usable(props, annotators)})
    doc_ids = sorted(votes)
    return Predictions(model=name, doc_ids=doc_ids, labels=[votes[d] for d in doc_ids],
                       codes=list(codes),
                       provenance={"aggregate": "majority", "annotators": used})
