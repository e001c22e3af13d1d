"""Agreement between human coders, the documents they disagree on, and adjudication."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from replicoder.errors import ReplicoderError
from replicoder.labels import graded
from replicoder.labels.codebook import Codebook
from replicoder.review.session import check_codes
from replicoder.run import now
from replicoder.store import Store
from replicoder.store.reviews import Adjudication, Decision

__all__ = ["AgreementReport", "Disagreement", "adjudicate", "coder_agreement", "disagreements"]


@dataclass(frozen=True)
class Disagreement:
    """A document that needs adjudication: coders chose different labels, or one flagged it
    unclear. ``labels`` maps coder -> final labels; ``unclear`` lists coders who flagged it."""

    doc_id: str
    labels: dict[str, frozenset[str]]
    unclear: list[str]
    adjudicated: Adjudication | None


@dataclass(frozen=True)
class AgreementReport:
    """Krippendorff's alpha over documents decided by two or more coders (unclear flags left
    out as missing) with its 95% bootstrap interval, and the documents that need
    adjudication. ``alpha`` is None without such documents and nan when undefined (every
    coder gave the same single answer)."""

    alpha: float | None
    interval: tuple[float, float] | None
    distance: str
    units: int
    coders: list[str]
    disagreements: list[Disagreement]


def _needs_adjudication(decided: dict[str, Decision]) -> bool:
    if any(d.unclear for d in decided.values()):
        return True
    return len({d.final for d in decided.values()}) > 1


def disagreements(store: Store) -> list[Disagreement]:
    """Every document whose coders disagree or that was flagged unclear, in import order."""
    adjudicated = store.adjudications()
    by_doc = store.decisions_by_doc()
    order = store.decided_in_order()
    return [
        Disagreement(
            doc_id,
            {c: d.final for c, d in sorted(by_doc[doc_id].items())},
            sorted(c for c, d in by_doc[doc_id].items() if d.unclear),
            adjudicated.get(doc_id),
        )
        for doc_id in order
        if _needs_adjudication(by_doc[doc_id])
    ]


def coder_agreement(store: Store, book: Codebook, distance: str | None = None,
                    seed: int = 0) -> AgreementReport:
    """Alpha between coders: nominal for single-label codebooks, MASI for multi-label ones."""
    from replicoder.metrics.agreement import DISTANCES, alpha_with_interval

    dist = distance or ("masi" if book.multi_label else "nominal")
    if dist not in DISTANCES:
        raise ReplicoderError(f"--distance {dist!r}: use one of {', '.join(DISTANCES)}")
    units: dict[str, dict[str, frozenset[str]]] = {}
    for doc_id, decided in store.decisions_by_doc().items():
        clear = {c: d.final for c, d in decided.items() if not d.unclear}
        if len(clear) >= 2:
            units[doc_id] = clear
    alpha: float | None = None
    interval: tuple[float, float] | None = None
    if units:
        alpha, interval, _ = alpha_with_interval(units, dist, n_boot=1000, seed=seed)
    coders = sorted({c for u in units.values() for c in u})
    return AgreementReport(alpha, interval, dist, len(units), coders, disagreements(store))


def adjudicate(store: Store, book: Codebook, adjudicator: str, doc_id: str,
               labels: Collection[str], unclear: bool = False, *,
               allow_party: bool = False) -> Adjudication:
    """Record the final labels of a document the coders disagreed on (latest one wins).

    Only a coder who did not decide the document may, unless ``allow_party`` (the study's
    ``[review] party_adjudication = true``)."""
    if not store.documents([doc_id]):
        raise ReplicoderError(f"document {doc_id!r} is not in this study")
    decided = store.decisions_by_doc().get(doc_id, {})
    if not decided or not _needs_adjudication(decided):
        why = ("nobody has decided it" if not decided else
               f"its coders ({', '.join(sorted(decided))}) agree and nobody flagged it unclear")
        raise ReplicoderError(
            f"document {doc_id!r} has no disagreement to adjudicate: {why}; only documents "
            "the coders disagree on (or flagged unclear) are adjudicated"
        )
    if adjudicator in decided and not allow_party:
        raise ReplicoderError(
            f"document {doc_id!r}: {adjudicator!r} is one of its coders "
            f"({', '.join(sorted(decided))}), so cannot adjudicate it; a third coder "
            "adjudicates (replicoder review adjudicate --coder NAME). A study that allows "
            "it on purpose sets party_adjudication = true under [review] in replicoder.toml "
            "(the export then reports it)")
    check_codes(book, labels, f"document {doc_id!r}")
    if book.graded and not unclear:
        graded.check(book, labels, f"document {doc_id!r}")
    if not unclear and not book.multi_label and len(set(labels)) != 1:
        raise ReplicoderError(
            f"document {doc_id!r}: the codebook is single-label, so give exactly one label "
            "(or mark it unclear)"
        )
    adj = Adjudication(doc_id, adjudicator, frozenset(labels), unclear, now(precise=True))
    store.add_adjudication(adj)
    return adj
