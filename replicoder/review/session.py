"""One coder's review: what to show for a document, saving drafts and decisions, progress.

Library functions over an open :class:`~replicoder.store.Store`; the web app is a thin
layer over them.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Collection
from dataclasses import dataclass

from replicoder.errors import ReplicoderError
from replicoder.labels import graded
from replicoder.labels.codebook import Codebook
from replicoder.run import now
from replicoder.store import Store
from replicoder.store.reviews import Decision, Draft

__all__ = ["CODER_NAME", "DocView", "Progress", "check_coder", "check_codes", "check_name",
           "decide", "next_undecided", "opening", "progress", "proposals_for", "save_draft", "view"]

CODER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # ASCII only: no look-alike names


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    median_seconds: float | None


@dataclass(frozen=True)
class DocView:
    """Everything the review page shows for one document.

    ``proposed`` maps each proposed label to its annotators (sorted); ``rejected``,
    ``added`` and ``unclear`` are the current state (a draft, else the saved decision, else
    nothing rejected); ``seconds`` is time already spent; ``position`` is 0-based in the queue.
    """

    doc_id: str
    text: str
    proposed: dict[str, list[str]]
    annotators: list[str]
    unparsed: list[str]
    rejected: frozenset[str]
    added: frozenset[str]
    unclear: bool
    seconds: float
    saved: bool
    position: int
    previous: str | None
    next: str | None


def check_name(coder: str) -> None:
    """A clear error for a coder name that is not 1-64 letters, digits, '-' or '_'."""
    if not CODER_NAME.fullmatch(coder):
        raise ReplicoderError(
            f"coder name {coder!r}: use 1-64 ASCII letters, digits, '-' or '_' "
            "(e.g. --coder anna)"
        )


def check_coder(store: Store, coder: str) -> None:
    """A clear error for a bad coder name or a coder without assigned documents."""
    check_name(coder)
    assigned = store.assigned_coders()
    if assigned and coder not in assigned:
        raise ReplicoderError(
            f"coder {coder!r} has no assigned documents; assigned coders: "
            f"{', '.join(assigned)}. Use one of them, or run `replicoder review assign` again."
        )


def proposals_for(store: Store, doc_id: str) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """(label -> annotators proposing it, every annotator, annotators whose answer was unread)."""
    proposed: dict[str, list[str]] = {}
    annotators: list[str] = []
    unparsed: list[str] = []
    for p in store.proposals([doc_id]):
        annotators.append(p.annotator)
        if p.status != "ok":
            unparsed.append(p.annotator)
        for code in p.labels:
            proposed.setdefault(code, []).append(p.annotator)
    return {k: sorted(v) for k, v in proposed.items()}, annotators, unparsed


def next_undecided(store: Store, coder: str) -> str | None:
    """The coder's next undecided document in queue order (documents with proposals come
    first unless an order was chosen with `review assign --order`)."""
    return store.first_undecided(coder)


def opening(store: Store, coder: str, include_unproposed: bool = False) -> str | None:
    """The document the app opens on: in a study with LLM proposals, the first undecided
    one that has proposals (a reject-only review never opens on an empty document) unless
    ``include_unproposed`` (the coder asked to label documents without any)."""
    if not include_unproposed and store.has_proposals():
        return store.first_undecided(coder, proposed_only=True)
    return store.first_undecided(coder)


def progress(store: Store, coder: str) -> Progress:
    mine = store.decided_seconds(coder)
    median = statistics.median(mine) if mine else None
    return Progress(len(mine), store.queue_size(coder), median)


def _queue_seq(store: Store, coder: str, doc_id: str) -> int:
    seq = store.queue_seq(coder, doc_id)
    if seq is None:
        known = "" if store.documents([doc_id]) else " (no such document in this study)"
        raise ReplicoderError(f"document {doc_id!r} is not in {coder}'s queue{known}")
    return seq


def _seconds(seconds: float) -> float:
    if not math.isfinite(seconds) or seconds < 0:
        raise ReplicoderError(f"seconds must be a finite number of seconds >= 0 (got {seconds})")
    return seconds


def view(store: Store, coder: str, doc_id: str) -> DocView:
    pos, previous, following = store.queue_around(coder, _queue_seq(store, coder, doc_id))
    doc = store.documents([doc_id])[0]
    proposed, annotators, unparsed = proposals_for(store, doc_id)
    draft = store.draft(doc_id, coder)
    saved = store.decision(doc_id, coder)
    rejected: frozenset[str] = frozenset()
    added: frozenset[str] = frozenset()
    unclear, seconds = False, 0.0
    if draft is not None:
        rejected, added, unclear, seconds = draft.rejected, draft.added, draft.unclear, \
            draft.seconds
    elif saved is not None:
        rejected, added, unclear, seconds = saved.rejected, saved.added, saved.unclear, \
            saved.seconds
    return DocView(
        doc_id=doc_id, text=doc.text, proposed=proposed, annotators=annotators,
        unparsed=unparsed, rejected=rejected & proposed.keys(), added=added - proposed.keys(),
        unclear=unclear, seconds=seconds, saved=saved is not None, position=pos,
        previous=previous, next=following,
    )


def check_codes(book: Codebook, codes: Collection[str], field: str) -> None:
    """Codes (in a graded codebook: ``code:intensity`` values) that the codebook holds."""
    allowed = set(book.values)
    unknown = sorted(c for c in codes if c not in allowed)
    if unknown:
        scale = (f" as code:intensity, intensities {', '.join(book.intensities)}"
                 if book.graded else "")
        raise ReplicoderError(
            f"{field}: codes {unknown} are not in the codebook '{book.name}'; "
            f"valid codes{scale}: {', '.join(book.codes)}"
        )


def save_draft(store: Store, book: Codebook, coder: str, doc_id: str, rejected: Collection[str],
               added: Collection[str], unclear: bool, seconds: float) -> None:
    """Keep the coder's unsaved state so that a reload or a crash loses nothing."""
    _queue_seq(store, coder, doc_id)
    check_codes(book, added, "added")
    store.save_draft(
        Draft(doc_id, coder, frozenset(rejected), frozenset(added), unclear, _seconds(seconds)),
        now(precise=True),
    )


def decide(store: Store, book: Codebook, coder: str, doc_id: str, rejected: Collection[str],
           added: Collection[str], unclear: bool, seconds: float) -> Decision:
    """Validate and record a coder's decision on a document (one transaction)."""
    _queue_seq(store, coder, doc_id)
    _seconds(seconds)
    check_codes(book, added, "added")
    proposed, _, _ = proposals_for(store, doc_id)
    rej = frozenset(rejected) & proposed.keys()
    kept = frozenset(proposed) - rej
    add = frozenset(added) - proposed.keys()
    final = kept | add
    if book.graded and not unclear:
        graded.check(book, final, f"document {doc_id!r}: keep one intensity per label "
                                  "(reject the others, or flag the document unclear);")
    if not unclear and not book.multi_label and len(final) != 1:
        raise ReplicoderError(
            f"document {doc_id!r}: the codebook is single-label, so keep exactly one label "
            f"(now {len(final)}: {sorted(final)}), or flag the document unclear"
        )
    decision = Decision(doc_id, coder, kept, rej, add, unclear, seconds, now(precise=True),
                        proposed)
    store.add_decision(decision)
    return decision
