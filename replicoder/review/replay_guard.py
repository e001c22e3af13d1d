"""A second import-proposals file must not orphan a decision: a coder's decision records
which annotators proposed each label it judged, so an annotator's proposals for a decided
document are not replaced by other labels unless the same file brings that coder's new
decision too. Refused with the documents named (simpler and safer than versions)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from replicoder.errors import ReplicoderError, summarise
from replicoder.store import Proposal, Store
from replicoder.store.reviews import Decision

__all__ = ["check_no_orphans"]


def check_no_orphans(store: Store, path: Path, proposals: Sequence[Proposal],
                     decisions: Sequence[Decision]) -> None:
    """Refuse proposals that would replace other labels of (document, annotator) pairs that a
    coder's decision (not replaced by ``decisions``) refers to."""
    old = {(p.doc_id, p.annotator): p.labels
           for p in store.proposals(sorted({p.doc_id for p in proposals}))}
    changed = {(p.doc_id, p.annotator) for p in proposals
               if (p.doc_id, p.annotator) in old and old[(p.doc_id, p.annotator)] != p.labels}
    if not changed:
        return
    replaced = {(d.doc_id, d.coder) for d in decisions}
    by_doc = store.decisions_by_doc()
    orphans: list[str] = []
    for doc_id, annotator in sorted(changed):
        for coder, decision in sorted(by_doc.get(doc_id, {}).items()):
            if (doc_id, coder) not in replaced and _refers(decision, annotator):
                orphans.append(f"document {doc_id!r} (annotator {annotator!r}, coder {coder!r})")
    if orphans:
        raise ReplicoderError(
            f"{path}: this file gives other labels to proposals that coders' decisions refer "
            f"to ({summarise(orphans)}); importing it would leave those decisions pointing at "
            "proposals that no longer exist. Nothing was imported. Import it under another "
            "annotator name (e.g. a new value in the annotator column, such as 'gpt4-v2'), "
            "or put those coders' decisions on the new proposals in the same file.")


def _refers(decision: Decision, annotator: str) -> bool:
    return any(annotator in who for who in decision.proposed.values())
