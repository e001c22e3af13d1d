"""Validation samples (issue 15): random samples drawn for review, with their design."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from replicoder.store.base import Base

__all__ = ["Samples", "StoredSample"]


@dataclass(frozen=True)
class StoredSample:
    """A drawn sample: ``docs`` maps each sampled doc_id to its stratum."""

    sample_id: str
    created_at: str
    design: dict[str, Any]
    docs: dict[str, str]


class Samples(Base):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS validation_samples (
        sample_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        design TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS validation_sample_docs (
        sample_id TEXT NOT NULL REFERENCES validation_samples(sample_id),
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        stratum TEXT NOT NULL,
        PRIMARY KEY (sample_id, doc_id)
    ) WITHOUT ROWID
    """

    def add_sample(self, sample_id: str, created_at: str, design: dict[str, Any],
                   docs: Sequence[tuple[str, str]]) -> None:
        """Record a sample and its (doc_id, stratum) rows in one transaction."""
        with self.transaction():
            self.conn.execute("INSERT INTO validation_samples VALUES (?,?,?)",
                              (sample_id, created_at, json.dumps(design, sort_keys=True)))
            self.conn.executemany("INSERT INTO validation_sample_docs VALUES (?,?,?)",
                                  [(sample_id, d, h) for d, h in docs])

    def sample_ids(self) -> list[str]:
        """Every sample's id, oldest first."""
        return [r[0] for r in self._rows(
            "SELECT sample_id FROM validation_samples ORDER BY created_at, sample_id")]

    def sample(self, sample_id: str) -> StoredSample | None:
        rows = self._rows("SELECT * FROM validation_samples WHERE sample_id=?", (sample_id,))
        if not rows:
            return None
        docs = {r[0]: r[1] for r in self._rows(
            "SELECT doc_id, stratum FROM validation_sample_docs WHERE sample_id=? "
            "ORDER BY doc_id", (sample_id,))}
        return StoredSample(rows[0]["sample_id"], rows[0]["created_at"],
                            json.loads(rows[0]["design"]), docs)

    def first_decided(self) -> dict[str, str]:
        """doc_id -> time of its first decision or adjudication (ISO text)."""
        rows = self._rows(
            "SELECT doc_id, MIN(t) FROM (SELECT doc_id, decided_at AS t FROM decisions "
            "UNION ALL SELECT doc_id, decided_at AS t FROM adjudications) GROUP BY doc_id")
        return {r[0]: r[1] for r in rows}
