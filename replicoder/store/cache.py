"""Cache of LLM requests and responses (issue 4).

One row per distinct request: the key is a hash of (backend, model, rendered prompt,
parameters), so a re-run finds every answer here and sends nothing. An answer and the
proposal made from it are written in one transaction: a crash loses neither alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from replicoder.store.annotations import Annotations, Proposal
from replicoder.store.base import Base, chunks, placeholders

__all__ = ["CachedResponse", "LlmCache"]


@dataclass(frozen=True)
class CachedResponse:
    """One stored LLM exchange. ``request`` holds messages and parameters (never a key)."""

    key: str
    annotator: str
    backend: str
    model: str
    request: dict[str, Any]
    response: str
    input_tokens: int
    output_tokens: int
    cost: float
    seconds: float
    run_id: str
    created_at: str


class LlmCache(Base):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS llm_cache (
        key TEXT PRIMARY KEY,
        annotator TEXT NOT NULL,
        backend TEXT NOT NULL,
        model TEXT NOT NULL,
        request TEXT NOT NULL,
        response TEXT NOT NULL,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost REAL NOT NULL DEFAULT 0,
        seconds REAL NOT NULL DEFAULT 0,
        run_id TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    )
    """

    def cached(self, keys: Sequence[str]) -> dict[str, CachedResponse]:
        """The stored exchanges among ``keys`` (missing keys are left out)."""
        out: dict[str, CachedResponse] = {}
        for part in chunks(list(keys)):
            for r in self._rows(
                f"SELECT * FROM llm_cache WHERE key IN ({placeholders(len(part))})", part
            ):
                out[r["key"]] = CachedResponse(
                    r["key"], r["annotator"], r["backend"], r["model"], json.loads(r["request"]),
                    r["response"], r["input_tokens"], r["output_tokens"], r["cost"],
                    r["seconds"], r["run_id"], r["created_at"],
                )
        return out

    def cache_answer(self, entry: CachedResponse, proposals: Iterable[Proposal] = ()) -> None:
        """Store one exchange and the proposals made from it, in one transaction."""
        assert isinstance(self, Annotations)
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO llm_cache VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (entry.key, entry.annotator, entry.backend, entry.model,
                 json.dumps(entry.request, sort_keys=True, ensure_ascii=False), entry.response,
                 entry.input_tokens, entry.output_tokens, entry.cost, entry.seconds,
                 entry.run_id, entry.created_at),
            )
            self.add_proposals(proposals)

    def cache_totals(self) -> dict[str, dict[str, float]]:
        """Per annotator that sent them: requests, tokens in/out, cost and seconds stored."""
        rows = self._rows(
            "SELECT annotator, COUNT(*) AS n, SUM(input_tokens) AS i, SUM(output_tokens) AS o, "
            "SUM(cost) AS c, SUM(seconds) AS s FROM llm_cache GROUP BY annotator ORDER BY 1"
        )
        return {
            r["annotator"]: {"requests": r["n"], "input_tokens": r["i"] or 0,
                             "output_tokens": r["o"] or 0, "cost": r["c"] or 0.0,
                             "seconds": r["s"] or 0.0}
            for r in rows
        }
