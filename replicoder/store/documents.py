"""Documents, their gold labels and the imports that brought them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from replicoder.store.base import Base, chunks, placeholders

__all__ = ["Document", "Documents", "Existing"]


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    meta: dict[str, Any]
    gold: frozenset[str] | None  # None: not labelled; empty set: labelled "no label applies"


@dataclass(frozen=True)
class Existing:
    text_sha256: str
    has_gold: bool


class Documents(Base):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS imports (
        import_id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        file_sha256 TEXT NOT NULL,
        options TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        rows_read INTEGER,
        added INTEGER
    );
    CREATE TABLE IF NOT EXISTS documents (
        seq INTEGER PRIMARY KEY,
        doc_id TEXT NOT NULL UNIQUE,
        text TEXT NOT NULL,
        text_sha256 TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        has_gold INTEGER NOT NULL DEFAULT 0,
        import_id INTEGER REFERENCES imports(import_id)
    );
    CREATE TABLE IF NOT EXISTS gold_labels (
        doc_id TEXT NOT NULL REFERENCES documents(doc_id),
        code TEXT NOT NULL,
        PRIMARY KEY (doc_id, code)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS documents_review_seq ON documents(seq)
    """

    def start_import(self, path: str, file_sha256: str, options: dict[str, Any], now: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO imports (path, file_sha256, options, started_at) VALUES (?,?,?,?)",
            (path, file_sha256, json.dumps(options, sort_keys=True), now),
        )
        return int(cur.lastrowid or 0)

    def finish_import(self, import_id: int, rows_read: int, added: int, now: str) -> None:
        self.conn.execute(
            "UPDATE imports SET finished_at=?, rows_read=?, added=? WHERE import_id=?",
            (now, rows_read, added, import_id),
        )

    def existing(self, doc_ids: Sequence[str]) -> dict[str, Existing]:
        found: dict[str, Existing] = {}
        for part in chunks(doc_ids):
            for row in self._rows(
                "SELECT doc_id, text_sha256, has_gold FROM documents "
                f"WHERE doc_id IN ({placeholders(len(part))})",
                part,
            ):
                found[row["doc_id"]] = Existing(row["text_sha256"], bool(row["has_gold"]))
        return found

    def add_documents(
        self,
        rows: Iterable[tuple[str, str, str, dict[str, Any], frozenset[str] | None]],
        import_id: int | None = None,
    ) -> int:
        """Insert (doc_id, text, sha256, meta, gold) rows; returns how many were inserted."""
        docs: list[tuple[Any, ...]] = []
        labels: list[tuple[str, str]] = []
        for doc_id, text, sha, meta, gold in rows:
            docs.append((doc_id, text, sha, json.dumps(meta, ensure_ascii=False), gold is not None,
                         import_id))
            labels.extend((doc_id, code) for code in sorted(gold or ()))
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO documents (doc_id, text, text_sha256, meta, has_gold, import_id) "
                "VALUES (?,?,?,?,?,?)",
                docs,
            )
            self.conn.executemany("INSERT INTO gold_labels VALUES (?,?)", labels)
        return len(docs)

    def redact_texts(self) -> int:
        """Replace every document's text by ``sha256:<hash>`` and forget the LLM requests
        (they quote texts): for a copy that may be shared. Returns the documents redacted."""
        with self.transaction():
            cur = self.conn.execute("UPDATE documents SET text = 'sha256:' || text_sha256")
            self.conn.execute("DELETE FROM llm_cache")
        self.conn.execute("VACUUM")
        return int(cur.rowcount)

    def set_gold(self, gold: dict[str, frozenset[str]]) -> None:
        """Give labels to documents that had none."""
        with self.transaction():
            self.conn.executemany(
                "UPDATE documents SET has_gold=1 WHERE doc_id=?", [(d,) for d in gold]
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO gold_labels VALUES (?,?)",
                [(d, c) for d, codes in gold.items() for c in sorted(codes)],
            )

    def replace_gold(self, gold: dict[str, frozenset[str]]) -> None:
        """Give these documents these gold labels, replacing any they had."""
        with self.transaction():
            self.conn.executemany("DELETE FROM gold_labels WHERE doc_id=?", [(d,) for d in gold])
            self.set_gold(gold)

    def count_documents(self, *, labelled: bool | None = None) -> int:
        where = "" if labelled is None else f" WHERE has_gold={int(labelled)}"
        return int(self.conn.execute(f"SELECT COUNT(*) FROM documents{where}").fetchone()[0])

    def gold_counts(self) -> Counter[str]:
        return Counter(
            {
                row["code"]: row["n"]
                for row in self._rows("SELECT code, COUNT(*) AS n FROM gold_labels GROUP BY code")
            }
        )

    def gold(self, doc_ids: Sequence[str] | None = None) -> dict[str, frozenset[str]]:
        """Gold label sets of labelled documents (all, or those among ``doc_ids``)."""
        if doc_ids is None:
            ids = [r[0] for r in self._rows("SELECT doc_id FROM documents WHERE has_gold=1")]
        else:
            ids = list(doc_ids)
        out: dict[str, set[str]] = {}
        for part in chunks(ids):
            qs = placeholders(len(part))
            for row in self._rows(
                f"SELECT doc_id FROM documents WHERE has_gold=1 AND doc_id IN ({qs})", part
            ):
                out[row[0]] = set()
            for row in self._rows(
                f"SELECT doc_id, code FROM gold_labels WHERE doc_id IN ({qs})", part
            ):
                out.setdefault(row[0], set()).add(row[1])
        return {k: frozenset(v) for k, v in out.items()}

    def documents(self, doc_ids: Sequence[str]) -> list[Document]:
        """The documents with these ids, in the order asked; unknown ids are left out."""
        by_id: dict[str, Document] = {}
        gold = self.gold(doc_ids)
        for part in chunks(doc_ids):
            for row in self._rows(
                "SELECT doc_id, text, meta, has_gold FROM documents "
                f"WHERE doc_id IN ({placeholders(len(part))})",
                part,
            ):
                by_id[row["doc_id"]] = Document(
                    row["doc_id"], row["text"], json.loads(row["meta"]),
                    gold.get(row["doc_id"], frozenset()) if row["has_gold"] else None,
                )
        return [by_id[d] for d in doc_ids if d in by_id]

    def iter_documents(self, batch: int = 1000, *, labelled: bool | None = None
                       ) -> Iterator[Document]:
        """Every document in import order, read in batches (bounded memory)."""
        last = 0
        where = "" if labelled is None else f" AND has_gold={int(labelled)}"
        while True:
            rows = self._rows(
                f"SELECT seq, doc_id FROM documents WHERE seq > ?{where} ORDER BY seq LIMIT ?",
                (last, batch),
            )
            if not rows:
                return
            last = rows[-1]["seq"]
            yield from self.documents([r["doc_id"] for r in rows])

    def doc_ids(self, *, labelled: bool | None = None) -> list[str]:
        where = "" if labelled is None else f" WHERE has_gold={int(labelled)}"
        return [r[0] for r in self._rows(f"SELECT doc_id FROM documents{where} ORDER BY seq")]
