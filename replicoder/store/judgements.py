"""Per-item review judgements imported from elsewhere: one row per proposed label a coder
accepted or rejected, kept as the source counted them (repeats and second thoughts
included), so published acceptance rates can be recomputed row for row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from replicoder.store.base import Base

__all__ = ["Judgement", "Judgements"]


@dataclass(frozen=True)
class Judgement:
    source_sha256: str
    row_no: int
    doc_id: str
    coder: str
    annotator: str
    label: str
    accepted: bool


class Judgements(Base):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS judgements (
        source_sha256 TEXT NOT NULL,
        row_no INTEGER NOT NULL,
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        coder TEXT NOT NULL,
        annotator TEXT NOT NULL,
        label TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        PRIMARY KEY (source_sha256, row_no)
    );
    CREATE INDEX IF NOT EXISTS judgements_doc_coder ON judgements(doc_id, coder)
    """

    def add_judgements(self, items: Iterable[Judgement]) -> int:
        """Insert judgements; a row of a source already imported is left as it is.
        Returns how many were new."""
        rows = [(j.source_sha256, j.row_no, j.doc_id, j.coder, j.annotator, j.label,
                 int(j.accepted)) for j in items]
        with self.transaction():
            before = self.conn.total_changes
            self.conn.executemany("INSERT OR IGNORE INTO judgements VALUES (?,?,?,?,?,?,?)",
                                  rows)
            return self.conn.total_changes - before

    def judgements(self) -> list[Judgement]:
        return [
            Judgement(r["source_sha256"], r["row_no"], r["doc_id"], r["coder"],
                      r["annotator"], r["label"], bool(r["accepted"]))
            for r in self._rows("SELECT * FROM judgements ORDER BY source_sha256, row_no")
        ]
