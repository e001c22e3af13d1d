"""Human review: coder assignments, drafts, decisions and adjudications (issue 5).

Decisions and adjudications are append-only logs: the latest row per (doc, coder) or per
doc is the current one, so a second browser tab or a changed mind never loses history.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from replicoder.store.base import Base

__all__ = ["Adjudication", "Decision", "Draft", "Reviews", "Verified"]


@dataclass(frozen=True)
class Decision:
    """One coder's verdict on one document.

    ``proposed`` maps each proposed label to the annotators that proposed it; ``kept`` and
    ``rejected`` split those labels; ``added`` are labels the coder added; ``final`` is
    ``kept | added``. ``unclear`` flags a document the coder could not decide.
    """

    doc_id: str
    coder: str
    kept: frozenset[str]
    rejected: frozenset[str]
    added: frozenset[str]
    unclear: bool
    seconds: float
    decided_at: str
    proposed: dict[str, list[str]]

    @property
    def final(self) -> frozenset[str]:
        return self.kept | self.added


@dataclass(frozen=True)
class Draft:
    """Unsaved state of a document a coder is working on (restored after a reload)."""

    doc_id: str
    coder: str
    rejected: frozenset[str]
    added: frozenset[str]
    unclear: bool
    seconds: float


@dataclass(frozen=True)
class Adjudication:
    doc_id: str
    adjudicator: str
    labels: frozenset[str]
    unclear: bool
    decided_at: str


@dataclass(frozen=True)
class Verified:
    """A document whose review is complete: its final labels and who decided them.

    ``how`` is "single" (one coder), "agreed" (several coders, same labels) or "adjudicated".
    """

    doc_id: str
    labels: frozenset[str]
    decided_by: str
    how: str


def _decision(r: sqlite3.Row) -> Decision:
    return Decision(r["doc_id"], r["coder"], _set(r["kept"]), _set(r["rejected"]),
                    _set(r["added"]), bool(r["unclear"]), float(r["seconds"]),
                    r["decided_at"], json.loads(r["proposed"]))


def _set(text: str) -> frozenset[str]:
    return frozenset(json.loads(text))


def _json(codes: Iterable[str]) -> str:
    return json.dumps(sorted(codes))


class Reviews(Base):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS assignments (
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        coder TEXT NOT NULL,
        assigned_at TEXT NOT NULL,
        PRIMARY KEY (doc_id, coder)
    );
    CREATE INDEX IF NOT EXISTS assignments_coder ON assignments(coder);
    CREATE TABLE IF NOT EXISTS review_drafts (
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        coder TEXT NOT NULL,
        rejected TEXT NOT NULL,
        added TEXT NOT NULL,
        unclear INTEGER NOT NULL,
        seconds REAL NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (doc_id, coder)
    );
    CREATE TABLE IF NOT EXISTS decisions (
        decision_id INTEGER PRIMARY KEY,
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        coder TEXT NOT NULL,
        kept TEXT NOT NULL,
        rejected TEXT NOT NULL,
        added TEXT NOT NULL,
        unclear INTEGER NOT NULL,
        seconds REAL NOT NULL,
        decided_at TEXT NOT NULL,
        proposed TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX IF NOT EXISTS decisions_doc_coder ON decisions(doc_id, coder);
    CREATE INDEX IF NOT EXISTS decisions_coder ON decisions(coder, doc_id);
    CREATE TABLE IF NOT EXISTS adjudications (
        adjudication_id INTEGER PRIMARY KEY,
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        adjudicator TEXT NOT NULL,
        labels TEXT NOT NULL,
        unclear INTEGER NOT NULL,
        decided_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS adjudications_doc ON adjudications(doc_id)
    """

    # assignments -----------------------------------------------------------------------

    def set_assignments(self, pairs: Iterable[tuple[str, str]], now: str) -> int:
        """Replace every assignment by these (doc_id, coder) pairs; returns how many."""
        rows = [(d, c, now) for d, c in pairs]
        with self.transaction():
            self.conn.execute("DELETE FROM assignments")
            self.conn.executemany("INSERT INTO assignments VALUES (?,?,?)", rows)
        return len(rows)

    def assigned_coders(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT DISTINCT coder FROM assignments ORDER BY 1")]

    def assignments(self) -> dict[str, list[str]]:
        """doc_id -> coders it is assigned to."""
        out: dict[str, list[str]] = {}
        for r in self._rows("SELECT doc_id, coder FROM assignments ORDER BY doc_id, coder"):
            out.setdefault(r[0], []).append(r[1])
        return out

    def queue(self, coder: str) -> list[str]:
        """Documents this coder reviews, in queue order (``queue_keys``: a chosen order, else
        documents with proposals first, in import order): the assigned ones, or all
        documents when no assignment was made."""
        if self.conn.execute("SELECT 1 FROM assignments LIMIT 1").fetchone() is None:
            return [r[0] for r in self._rows("SELECT doc_id FROM queue_keys ORDER BY key")]
        return [
            r[0]
            for r in self._rows(
                "SELECT d.doc_id FROM queue_keys d JOIN assignments a ON a.doc_id=d.doc_id "
                "WHERE a.coder=? ORDER BY d.key",
                (coder,),
            )
        ]

    # the queue, one document at a time (pages stay fast at 300k documents) -----------

    def _assigned_mode(self) -> bool:
        return self.conn.execute("SELECT 1 FROM assignments LIMIT 1").fetchone() is not None

    def _in_queue(self) -> str:
        """SQL condition: document ``d`` is in coder ?'s queue (always true unassigned)."""
        if not self._assigned_mode():
            return "1"
        return "EXISTS (SELECT 1 FROM assignments a WHERE a.doc_id=d.doc_id AND a.coder=?)"

    def _queue_params(self, coder: str) -> tuple[str, ...]:
        return (coder,) if self._assigned_mode() else ()

    def queue_seq(self, coder: str, doc_id: str) -> int | None:
        """The document's queue key if it is in this coder's queue, else None."""
        row = self.conn.execute(
            f"SELECT d.key FROM queue_keys d WHERE d.doc_id=? AND {self._in_queue()}",
            (doc_id, *self._queue_params(coder)),
        ).fetchone()
        return int(row[0]) if row else None

    def queue_size(self, coder: str) -> int:
        if not self._assigned_mode():
            return int(self.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
        return int(self.conn.execute(
            "SELECT COUNT(*) FROM assignments WHERE coder=?", (coder,)).fetchone()[0])

    def queue_around(self, coder: str, seq: int) -> tuple[int, str | None, str | None]:
        """(0-based position, previous doc_id, next doc_id) of the document with key ``seq``."""
        cond, params = self._in_queue(), self._queue_params(coder)
        if self._assigned_mode():
            pos = self.conn.execute(
                "SELECT COUNT(*) FROM assignments a JOIN queue_keys d ON d.doc_id=a.doc_id "
                "WHERE a.coder=? AND d.key<?", (coder, seq)).fetchone()[0]
        else:
            pos = self.conn.execute(
                "SELECT COUNT(*) FROM queue_keys WHERE key<?", (seq,)).fetchone()[0]
        prev = self.conn.execute(
            f"SELECT d.doc_id FROM queue_keys d WHERE d.key<? AND {cond} "
            "ORDER BY d.key DESC LIMIT 1", (seq, *params)).fetchone()
        nxt = self.conn.execute(
            f"SELECT d.doc_id FROM queue_keys d WHERE d.key>? AND {cond} "
            "ORDER BY d.key LIMIT 1", (seq, *params)).fetchone()
        return int(pos), prev[0] if prev else None, nxt[0] if nxt else None

    def first_undecided(self, coder: str, proposed_only: bool = False) -> str | None:
        """The first document of the coder's queue (queue order) the coder has not decided;
        ``proposed_only``: the first with LLM proposals."""
        proposed = (" AND EXISTS (SELECT 1 FROM proposals p WHERE p.doc_id=d.doc_id)"
                    if proposed_only else "")
        row = self.conn.execute(
            f"SELECT d.doc_id FROM queue_keys d WHERE {self._in_queue()} AND NOT EXISTS "
            f"(SELECT 1 FROM decisions x WHERE x.doc_id=d.doc_id AND x.coder=?){proposed} "
            "ORDER BY d.key LIMIT 1", (*self._queue_params(coder), coder)).fetchone()
        return row[0] if row else None

    def decided_seconds(self, coder: str) -> list[float]:
        """Seconds of the coder's current decisions on documents in the coder's queue."""
        cond = self._in_queue().replace("d.doc_id", "x.doc_id")
        return [float(r[0]) for r in self.conn.execute(
            f"SELECT x.seconds FROM decisions x WHERE x.decision_id IN (SELECT MAX(decision_id) "
            f"FROM decisions WHERE coder=? GROUP BY doc_id) AND {cond}",
            (coder, *self._queue_params(coder)))]

    def decided_in_order(self) -> list[str]:
        """Documents someone decided, in import order."""
        return [r[0] for r in self._rows(
            "SELECT doc_id FROM documents WHERE doc_id IN (SELECT doc_id FROM decisions) "
            "ORDER BY seq")]

    # drafts ----------------------------------------------------------------------------

    def save_draft(self, draft: Draft, now: str) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO review_drafts VALUES (?,?,?,?,?,?,?)",
                (draft.doc_id, draft.coder, _json(draft.rejected), _json(draft.added),
                 int(draft.unclear), draft.seconds, now),
            )

    def draft(self, doc_id: str, coder: str) -> Draft | None:
        rows = self._rows(
            "SELECT * FROM review_drafts WHERE doc_id=? AND coder=?", (doc_id, coder)
        )
        if not rows:
            return None
        r = rows[0]
        return Draft(r["doc_id"], r["coder"], _set(r["rejected"]), _set(r["added"]),
                      bool(r["unclear"]), float(r["seconds"]))

    # decisions -------------------------------------------------------------------------

    def add_decision(self, d: Decision) -> None:
        """Record a decision and drop the coder's draft of that document, in one transaction."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO decisions (doc_id, coder, kept, rejected, added, unclear, seconds,"
                " decided_at, proposed) VALUES (?,?,?,?,?,?,?,?,?)",
                (d.doc_id, d.coder, _json(d.kept), _json(d.rejected), _json(d.added),
                 int(d.unclear), d.seconds, d.decided_at, json.dumps(d.proposed, sort_keys=True)),
            )
            self.conn.execute(
                "DELETE FROM review_drafts WHERE doc_id=? AND coder=?", (d.doc_id, d.coder)
            )

    def decisions(self, coder: str | None = None) -> list[Decision]:
        """The current (latest) decision of each coder on each document, in decision order."""
        if coder is None:
            latest = "SELECT MAX(decision_id) FROM decisions GROUP BY doc_id, coder"
            params: tuple[str, ...] = ()
        else:
            latest = "SELECT MAX(decision_id) FROM decisions WHERE coder=? GROUP BY doc_id"
            params = (coder,)
        rows = self._rows(
            f"SELECT * FROM decisions WHERE decision_id IN ({latest}) ORDER BY decision_id",
            params,
        )
        return [_decision(r) for r in rows]

    def decision(self, doc_id: str, coder: str) -> Decision | None:
        """This coder's current decision on this document, if any."""
        rows = self._rows(
            "SELECT * FROM decisions WHERE doc_id=? AND coder=? "
            "ORDER BY decision_id DESC LIMIT 1",
            (doc_id, coder),
        )
        return _decision(rows[0]) if rows else None

    def decided_ids(self, coder: str) -> set[str]:
        return {r[0] for r in self._rows(
            "SELECT DISTINCT doc_id FROM decisions WHERE coder=?", (coder,))}

    def decision_log_size(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])

    def coders(self) -> list[str]:
        """Everyone who decided or is assigned something."""
        return [
            r[0]
            for r in self._rows(
                "SELECT coder FROM decisions UNION SELECT coder FROM assignments ORDER BY 1"
            )
        ]

    # adjudications ---------------------------------------------------------------------

    def add_adjudication(self, a: Adjudication) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO adjudications (doc_id, adjudicator, labels, unclear, decided_at) "
                "VALUES (?,?,?,?,?)",
                (a.doc_id, a.adjudicator, _json(a.labels), int(a.unclear), a.decided_at),
            )

    def adjudications(self) -> dict[str, Adjudication]:
        """doc_id -> the latest adjudication of that document."""
        rows = self._rows(
            "SELECT * FROM adjudications WHERE adjudication_id IN "
            "(SELECT MAX(adjudication_id) FROM adjudications GROUP BY doc_id)"
        )
        return {
            r["doc_id"]: Adjudication(r["doc_id"], r["adjudicator"], _set(r["labels"]),
                                      bool(r["unclear"]), r["decided_at"])
            for r in rows
        }

    # the verified set ------------------------------------------------------------------

    def decisions_by_doc(self) -> dict[str, dict[str, Decision]]:
        """doc_id -> coder -> current decision."""
        out: dict[str, dict[str, Decision]] = {}
        for d in self.decisions():
            out.setdefault(d.doc_id, {})[d.coder] = d
        return out

    def verified(self) -> list[Verified]:
        """Documents whose review is complete, in import order.

        Complete means: adjudicated (and not flagged unclear by the adjudicator), or every
        assigned coder (at least one coder when unassigned) decided, nobody flagged it
        unclear and all chose the same labels.
        """
        by_doc = self.decisions_by_doc()
        adjudicated = self.adjudications()
        assigned = self.assignments()
        out: list[Verified] = []
        order = [r[0] for r in self._rows("SELECT doc_id FROM documents ORDER BY seq")]
        for doc_id in order:
            adj = adjudicated.get(doc_id)
            if adj is not None:
                if not adj.unclear:
                    out.append(Verified(doc_id, adj.labels, adj.adjudicator, "adjudicated"))
                continue
            decided = by_doc.get(doc_id)
            if not decided:
                continue
            if any(c not in decided for c in assigned.get(doc_id, [])):
                continue
            finals = {d.final for d in decided.values()}
            if len(finals) != 1 or any(d.unclear for d in decided.values()):
                continue
            coders = sorted(decided)
            out.append(Verified(doc_id, finals.pop(), "+".join(coders),
                                "single" if len(coders) == 1 else "agreed"))
        return out

    def verified_labels(self) -> dict[str, frozenset[str]]:
        """doc_id -> final labels of every document whose review is complete."""
        return {v.doc_id: v.labels for v in self.verified()}
