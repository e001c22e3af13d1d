"""Train/validation/test splits (issue 3): one fixed part per labelled document."""

from __future__ import annotations

from replicoder.store.base import Base

__all__ = ["PARTS", "Splits"]

PARTS = ("train", "validation", "test")


class Splits(Base):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS splits (
        doc_id TEXT PRIMARY KEY REFERENCES documents(doc_id),
        part TEXT NOT NULL CHECK (part IN ('train', 'validation', 'test'))
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS split_info (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID
    """

    def split_assignments(self) -> dict[str, str]:
        """doc_id -> "train" | "validation" | "test" for every document in the split."""
        return {r[0]: r[1] for r in self._rows("SELECT doc_id, part FROM splits ORDER BY doc_id")}

    def split_seed(self) -> int | None:
        """The seed the split was made with; None if there is no split yet."""
        rows = self._rows("SELECT value FROM split_info WHERE key='seed'")
        return int(rows[0][0]) if rows else None

    def split_fractions(self) -> tuple[float, float] | None:
        """(test, validation) fractions the split was made with; None for a split made
        before they were recorded, or no split yet."""
        query = ("SELECT key, value FROM split_info WHERE key IN "
                 "('test_fraction', 'validation_fraction')")
        rows = {str(r[0]): str(r[1]) for r in self._rows(query)}
        if len(rows) < 2:
            return None
        return float(rows["test_fraction"]), float(rows["validation_fraction"])

    def add_split(self, parts: dict[str, str], seed: int,
                  fractions: tuple[float, float] | None = None) -> None:
        """Record parts for documents not yet in the split (never moves a document);
        the seed and ``fractions`` (test, validation) are kept from the first call."""
        bad = sorted({p for p in parts.values() if p not in PARTS})
        if bad:
            raise ValueError(f"unknown split parts {bad}")
        with self.transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO split_info VALUES ('seed', ?)", (str(seed),)
            )
            if fractions is not None:
                self.conn.executemany(
                    "INSERT OR IGNORE INTO split_info VALUES (?, ?)",
                    [("test_fraction", repr(fractions[0])),
                     ("validation_fraction", repr(fractions[1]))])
            self.conn.executemany(
                "INSERT OR IGNORE INTO splits VALUES (?, ?)", sorted(parts.items())
            )
