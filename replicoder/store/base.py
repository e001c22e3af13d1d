"""Connection handling shared by every table group of the store."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from replicoder.errors import ReplicoderError

__all__ = ["Base", "chunks", "placeholders"]


def _open_error(path: Path, exc: sqlite3.OperationalError) -> ReplicoderError:
    text = str(exc)
    if "readonly" in text or "unable to open" in text or "read-only" in text:
        return ReplicoderError(
            f"{path}: the study database cannot be written ({text}); the study folder "
            f"{path.parent} must be writable (SQLite also writes files beside study.db). "
            "Copy the study somewhere writable (cp -r) or fix its permissions"
        )
    return ReplicoderError(f"{path}: cannot open the study database: {text}")


class Base:
    """One SQLite connection in WAL mode with explicit, nestable transactions."""

    SCHEMA: str = ""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._depth = 0
        try:
            self.conn = sqlite3.connect(
                self.path, timeout=60, isolation_level=None, check_same_thread=False
            )
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self._create_schema()
        except sqlite3.OperationalError as exc:
            raise _open_error(self.path, exc) from None

    def check_writable(self) -> None:
        """A clear error now, rather than after a long job, if study.db cannot be written."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
                self.conn.execute(f"PRAGMA user_version={version}")
            finally:
                self.conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            raise _open_error(self.path, exc) from None

    def backup(self, target: Path) -> None:
        """A consistent copy of the database at ``target`` (SQLite's online backup)."""
        dest = sqlite3.connect(target)
        try:
            self.conn.backup(dest)
        finally:
            dest.close()

    def _create_schema(self) -> None:
        scripts = [
            klass.__dict__["SCHEMA"]
            for klass in reversed(type(self).__mro__)
            if klass.__dict__.get("SCHEMA")
        ]
        with self.transaction():
            for script in scripts:
                for statement in script.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; inner blocks join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """Slices small enough for SQLite's limit on bound parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(n: int) -> str:
    return ",".join("?" * n)
