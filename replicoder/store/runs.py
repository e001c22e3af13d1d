"""Runs: one row per command that produced results, with its manifest."""

from __future__ import annotations

import json
from typing import Any

from replicoder.store.base import Base

__all__ = ["Runs"]


class Runs(Base):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        manifest TEXT NOT NULL
    )
    """

    def add_run(self, run_id: str, kind: str, created_at: str, manifest: dict[str, Any]) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?)",
                (run_id, kind, created_at, json.dumps(manifest, sort_keys=True)),
            )

    def list_runs(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT run_id, kind, created_at, manifest FROM runs"
        rows = self._rows(sql + " WHERE kind=? ORDER BY created_at", (kind,)) if kind else \
            self._rows(sql + " ORDER BY created_at")
        return [
            {"run_id": r[0], "kind": r[1], "created_at": r[2], "manifest": json.loads(r[3])}
            for r in rows
        ]
