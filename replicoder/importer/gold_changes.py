"""Re-imports that change a document's gold labels: refused, or applied when asked
(``replicoder import --update-labels``) and recorded."""

from __future__ import annotations

from typing import Any

from replicoder.errors import ReplicoderError, clip
from replicoder.io.readers import Table
from replicoder.store import Store

__all__ = ["GoldChanges", "SHOW"]

SHOW = 10  # changed documents named in an error message
RECORD = 100  # changed documents listed (old and new labels) in the run manifest


class GoldChanges:
    """Collects the documents already present whose gold labels a file changes."""

    def __init__(self, update: bool) -> None:
        self.update = update
        self.count = 0
        self.updated = 0
        self.first: list[dict[str, Any]] = []

    def compare(self, store: Store, items: dict[str, tuple[int, frozenset[str]]],
                table: Table) -> None:
        """``items``: doc_id -> (row, new gold) of documents that already have gold."""
        old = store.gold(list(items))
        changed = {d: new for d, (_, new) in items.items() if old.get(d, frozenset()) != new}
        for doc_id, new in changed.items():
            if len(self.first) < RECORD:
                self.first.append({"id": doc_id, f"{table.where}": items[doc_id][0],
                                   "old": sorted(old.get(doc_id, frozenset())),
                                   "new": sorted(new)})
        self.count += len(changed)
        if changed and self.update:
            store.replace_gold(changed)
            self.updated += len(changed)

    def check(self, table: Table) -> None:
        """Refuse the import when gold labels changed and updating was not asked for."""
        if not self.count or self.update:
            return
        shown = [f"id {clip(c['id'], 40)!r} ({table.where} {c[table.where]}: "
                 f"{';'.join(c['old']) or 'no label'} -> {';'.join(c['new']) or 'no label'})"
                 for c in self.first[:SHOW]]
        raise ReplicoderError(
            f"{table.path}: {self.count:,} documents already in the study come with other gold "
            f"labels than they have (first {len(shown)}: {'; '.join(shown)}). Nothing was "
            "imported. Pass "
            "--update-labels to replace their gold labels (recorded in the run manifest), "
            "or fix the file.")

    def record(self) -> dict[str, Any]:
        """The manifest's account of the change."""
        return {"documents": self.updated, "first": self.first if self.updated else []}
