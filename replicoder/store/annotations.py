"""LLM proposals: the labels each annotator proposed for each document."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from replicoder.store.base import Base, chunks, placeholders

__all__ = ["Annotations", "Proposal"]


@dataclass(frozen=True)
class Proposal:
    doc_id: str
    annotator: str
    labels: frozenset[str]
    status: str  # "ok", or "unparsed" when the answer could not be read
    raw: str
    provenance: dict[str, Any]
    created_at: str


class Annotations(Base):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS proposals (
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        annotator TEXT NOT NULL,
        labels TEXT NOT NULL,
        status TEXT NOT NULL,
        raw TEXT NOT NULL DEFAULT '',
        provenance TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        PRIMARY KEY (doc_id, annotator)
    )
    """

    def add_proposals(self, proposals: Iterable[Proposal]) -> None:
        """Insert or replace proposals, all in one transaction."""
        rows = [
            (p.doc_id, p.annotator, json.dumps(sorted(p.labels)), p.status, p.raw,
             json.dumps(p.provenance, sort_keys=True), p.created_at)
            for p in proposals
        ]
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO proposals VALUES (?,?,?,?,?,?,?)", rows
            )

    def proposals(
        self, doc_ids: Sequence[str] | None = None, annotator: str | None = None
    ) -> list[Proposal]:
        """Proposals for these documents (or all), optionally of one annotator."""
        base = "SELECT * FROM proposals"
        cond: list[str] = []
        params: list[Any] = []
        if annotator is not None:
            cond.append("annotator=?")
            params.append(annotator)
        parts: Iterable[Sequence[str]] = chunks(doc_ids) if doc_ids is not None else [()]
        out: list[Proposal] = []
        for part in parts:
            where = list(cond)
            if doc_ids is not None:
                where.append(f"doc_id IN ({placeholders(len(part))})")
            sql = base + (" WHERE " + " AND ".join(where) if where else "")
            for r in self._rows(sql + " ORDER BY doc_id, annotator", [*params, *part]):
                out.append(
                    Proposal(r["doc_id"], r["annotator"], frozenset(json.loads(r["labels"])),
                             r["status"], r["raw"], json.loads(r["provenance"]), r["created_at"])
                )
        return out

    def annotators(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT DISTINCT annotator FROM proposals ORDER BY 1")]
