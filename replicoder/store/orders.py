"""Review order (issue 30): where each document sits in the coders' queues, the orders that
put it there with their inputs, and the label audits' findings.

``queue_keys`` holds one sort key per document: a chosen order's rank (``< PROPOSED``), else
``PROPOSED + seq`` for a document with LLM proposals and ``UNPROPOSED + seq`` for one
without, so that by default documents with proposals come first, in import order. Triggers
keep the keys of new documents and newly proposed documents right.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from replicoder.store.base import Base, chunks, placeholders

__all__ = ["PROPOSED", "TRIGGERS", "UNPROPOSED", "Finding", "Orders", "ReviewOrder"]

PROPOSED = 1 << 40
UNPROPOSED = 1 << 41

_DEFAULT_KEY = (f"CASE WHEN EXISTS (SELECT 1 FROM proposals p WHERE p.doc_id=d.doc_id) "
                f"THEN {PROPOSED} ELSE {UNPROPOSED} END + d.seq")

TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS queue_keys_new_document AFTER INSERT ON documents
    BEGIN INSERT OR IGNORE INTO queue_keys VALUES (NEW.doc_id, NEW.seq + CASE WHEN EXISTS
    (SELECT 1 FROM proposals p WHERE p.doc_id=NEW.doc_id) THEN {PROPOSED} ELSE {UNPROPOSED}
    END); END""",
    f"""CREATE TRIGGER IF NOT EXISTS queue_keys_new_proposal AFTER INSERT ON proposals
    BEGIN UPDATE queue_keys SET key = key - {UNPROPOSED - PROPOSED}
    WHERE doc_id=NEW.doc_id AND key >= {UNPROPOSED}; END""",
)


@dataclass(frozen=True)
class ReviewOrder:
    """An order given to the queues: its kind, inputs, how often it is refitted."""

    order_id: int
    run_id: str
    kind: str
    created_at: str
    inputs: dict[str, Any]
    refresh_every: int | None
    fitted_at: int  # decisions logged when its scores were last computed


@dataclass(frozen=True)
class Finding:
    """A label the audit thinks is probably wrong, queued for a second coder."""

    run_id: str
    doc_id: str
    rank: int
    source: str  # "verified" or "gold"
    labels: frozenset[str]
    suggested: frozenset[str]
    quality: float
    decided_by: str
    second_coder: str


class Orders(Base):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS queue_keys (
        doc_id TEXT PRIMARY KEY,
        key INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS queue_keys_key ON queue_keys(key);
    CREATE TABLE IF NOT EXISTS review_orders (
        order_id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        inputs TEXT NOT NULL,
        refresh_every INTEGER,
        fitted_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS review_order_fits (
        order_id INTEGER NOT NULL REFERENCES review_orders(order_id),
        fitted_at INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        inputs TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS audit_findings (
        run_id TEXT NOT NULL,
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        rank INTEGER NOT NULL,
        source TEXT NOT NULL,
        labels TEXT NOT NULL,
        suggested TEXT NOT NULL,
        quality REAL NOT NULL,
        decided_by TEXT NOT NULL,
        second_coder TEXT NOT NULL,
        PRIMARY KEY (run_id, doc_id)
    ) WITHOUT ROWID
    """

    def _create_schema(self) -> None:
        super()._create_schema()
        with self.transaction():
            for trigger in TRIGGERS:
                self.conn.execute(trigger)
            empty = self.conn.execute("SELECT 1 FROM queue_keys LIMIT 1").fetchone() is None
            if empty and self.conn.execute("SELECT 1 FROM documents LIMIT 1").fetchone():
                self.conn.execute(f"INSERT INTO queue_keys SELECT d.doc_id, {_DEFAULT_KEY} "
                                  "FROM documents d")

    # queue keys ------------------------------------------------------------------------

    def set_queue_order(self, ranked: Sequence[str]) -> None:
        """Put ``ranked`` first, in this order; every other document gets its default key."""
        with self.transaction():
            self.conn.execute(f"UPDATE queue_keys SET key = (SELECT {_DEFAULT_KEY} FROM "
                              "documents d WHERE d.doc_id=queue_keys.doc_id)")
            self.conn.executemany("UPDATE queue_keys SET key=? WHERE doc_id=?",
                                  [(i, d) for i, d in enumerate(ranked)])

    def rerank(self, ranked: Sequence[str]) -> None:
        """Give ``ranked`` the ranked keys they already span, in this new order (a refit
        reorders the undecided documents among themselves)."""
        keys: list[int] = []
        for part in chunks(list(ranked)):
            keys += [int(r[0]) for r in self._rows(
                f"SELECT key FROM queue_keys WHERE doc_id IN ({placeholders(len(part))})",
                part)]
        with self.transaction():
            self.conn.executemany("UPDATE queue_keys SET key=? WHERE doc_id=?",
                                  list(zip(sorted(keys), ranked, strict=True)))

    def set_keys(self, keys: dict[str, int]) -> None:
        with self.transaction():
            self.conn.executemany("UPDATE queue_keys SET key=? WHERE doc_id=?",
                                  [(k, d) for d, k in keys.items()])

    def queue_keys(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._rows("SELECT doc_id, key FROM queue_keys")}

    def proposed_ids(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT DISTINCT doc_id FROM proposals")}

    def has_proposals(self) -> bool:
        return self.conn.execute("SELECT 1 FROM proposals LIMIT 1").fetchone() is not None

    def add_assignments(self, pairs: Iterable[tuple[str, str]], now: str) -> int:
        """Add (doc_id, coder) assignments, keeping the others; returns how many were new."""
        with self.transaction():
            before = self.conn.total_changes
            self.conn.executemany("INSERT OR IGNORE INTO assignments VALUES (?,?,?)",
                                  [(d, c, now) for d, c in pairs])
            return self.conn.total_changes - before

    # orders ----------------------------------------------------------------------------

    def add_order(self, run_id: str, kind: str, created_at: str, inputs: dict[str, Any],
                  refresh_every: int | None, fitted_at: int) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO review_orders (run_id, kind, created_at, inputs, refresh_every,"
                " fitted_at) VALUES (?,?,?,?,?,?)",
                (run_id, kind, created_at, json.dumps(inputs, sort_keys=True), refresh_every,
                 fitted_at))
            order_id = int(cur.lastrowid or 0)
            self.add_fit(order_id, fitted_at, created_at, inputs)
        return order_id

    def add_fit(self, order_id: int, fitted_at: int, created_at: str,
                inputs: dict[str, Any]) -> None:
        with self.transaction():
            self.conn.execute("INSERT INTO review_order_fits VALUES (?,?,?,?)",
                              (order_id, fitted_at, created_at,
                               json.dumps(inputs, sort_keys=True)))
            self.conn.execute("UPDATE review_orders SET fitted_at=? WHERE order_id=?",
                              (fitted_at, order_id))

    def orders(self) -> list[ReviewOrder]:
        """Every order given to the queues, oldest first."""
        return [ReviewOrder(int(r["order_id"]), r["run_id"], r["kind"], r["created_at"],
                            json.loads(r["inputs"]), r["refresh_every"], int(r["fitted_at"]))
                for r in self._rows("SELECT * FROM review_orders ORDER BY order_id")]

    def order_fits(self, order_id: int) -> list[dict[str, Any]]:
        return [{"fitted_at": int(r[0]), "created_at": r[1], **json.loads(r[2])}
                for r in self._rows("SELECT fitted_at, created_at, inputs FROM "
                                    "review_order_fits WHERE order_id=? ORDER BY rowid",
                                    (order_id,))]

    # audit findings --------------------------------------------------------------------

    def add_findings(self, findings: Iterable[Finding]) -> None:
        rows = [(f.run_id, f.doc_id, f.rank, f.source, json.dumps(sorted(f.labels)),
                 json.dumps(sorted(f.suggested)), f.quality, f.decided_by, f.second_coder)
                for f in findings]
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO audit_findings VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def findings(self, run_id: str | None = None) -> list[Finding]:
        where, params = ("WHERE run_id=?", (run_id,)) if run_id else ("", ())
        return [Finding(r["run_id"], r["doc_id"], int(r["rank"]), r["source"],
                        frozenset(json.loads(r["labels"])),
                        frozenset(json.loads(r["suggested"])), float(r["quality"]),
                        r["decided_by"], r["second_coder"])
                for r in self._rows(f"SELECT * FROM audit_findings {where} "
                                    "ORDER BY run_id, rank", params)]
