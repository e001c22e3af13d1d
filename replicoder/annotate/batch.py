"""``annotate --batch``: an annotator's requests as one OpenAI-style batch, at batch prices.

The requests go up as a JSONL file (``/v1/files``), a batch is created (``/v1/batches``),
polled until it ends, and its output file read back into the cache and proposals. The batch
id, with every request it holds, is written to study.db before polling starts: a command
killed while polling resumes that batch on the next run instead of paying twice. Requests
that failed (error file, non-200 lines, an expired batch) go again as a smaller batch, up
to ``RETRIES`` times; what still fails is left for a later run.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from replicoder.annotate.budget import Budget, waves, worst_cost
from replicoder.annotate.jobs import Annotator, Job
from replicoder.errors import ReplicoderError
from replicoder.run import now
from replicoder.store import Proposal, Store
from replicoder.store.cache import CachedResponse

__all__ = ["ENDPOINT", "RETRIES", "pending", "run_batches"]

ENDPOINT = "/v1/chat/completions"
RETRIES = 2  # smaller batches for the requests that failed
FINAL = ("completed", "failed", "expired", "cancelled")
SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_batches (
    batch_id TEXT PRIMARY KEY,
    annotator TEXT NOT NULL,
    requests TEXT NOT NULL,
    status TEXT NOT NULL,
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT NOT NULL DEFAULT ''
)
"""

Counter = Callable[[list[Proposal], CachedResponse], None]


def _table(store: Store) -> None:
    with store.transaction():
        store.conn.execute(SCHEMA)


def pending(store: Store, annotator: str) -> list[tuple[str, dict[str, Any]]]:
    """Batches of ``annotator`` sent but not yet read back: (batch id, key -> request)."""
    _table(store)
    rows = store.conn.execute(
        "SELECT batch_id, requests FROM llm_batches WHERE annotator=? AND finished_at='' "
        "ORDER BY created_at", (annotator,)).fetchall()
    return [(r[0], json.loads(r[1])) for r in rows]


def _body(ann: Annotator, messages: list[dict[str, str]]) -> dict[str, Any]:
    cfg = ann.cfg
    body: dict[str, Any] = {"model": cfg.model, "messages": messages,
                            "temperature": cfg.temperature, "max_tokens": cfg.max_tokens,
                            "seed": cfg.seed}
    fmt = getattr(ann.backend, "response_format", None)
    if fmt and not getattr(ann.backend, "schema_refused", False):
        body["response_format"] = fmt
    return body


def _send(ann: Annotator, store: Store, jobs: Sequence[Job], run_id: str) -> str:
    """Upload the requests, create the batch, record it; its id."""
    client = ann.backend.client()  # type: ignore[attr-defined]
    lines = [json.dumps({"custom_id": j.key, "method": "POST", "url": ENDPOINT,
                         "body": _body(ann, j.messages)}, ensure_ascii=False) for j in jobs]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    uploaded = client.files.create(file=(f"{ann.cfg.name}.jsonl", io.BytesIO(data)),
                                   purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT,
                                  completion_window="24h")
    with store.transaction():
        store.conn.execute(
            "INSERT INTO llm_batches VALUES (?,?,?,?,?,?,'')",
            (batch.id, ann.cfg.name, json.dumps({j.key: j.messages for j in jobs},
                                                 ensure_ascii=False),
             batch.status, run_id, now()))
    return str(batch.id)


def _wait(ann: Annotator, store: Store, batch_id: str, poll_s: float) -> Any:
    client = ann.backend.client()  # type: ignore[attr-defined]
    while True:
        batch = client.batches.retrieve(batch_id)
        with store.transaction():
            store.conn.execute("UPDATE llm_batches SET status=? WHERE batch_id=?",
                               (batch.status, batch_id))
        if batch.status in FINAL:
            return batch
        time.sleep(poll_s)


def _lines(ann: Annotator, file_id: str | None) -> list[dict[str, Any]]:
    if not file_id:
        return []
    text = ann.backend.client().files.content(file_id).text  # type: ignore[attr-defined]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _collect(ann: Annotator, store: Store, batch_id: str, requests: dict[str, Any],
             jobs: dict[str, Job], run_id: str, poll_s: float, count: Counter) -> set[str]:
    """Wait for a batch and store its answers; the keys that failed."""
    batch = _wait(ann, store, batch_id, poll_s)
    answered: set[str] = set()
    for line in _lines(ann, getattr(batch, "output_file_id", None)):
        key, response = line.get("custom_id"), line.get("response") or {}
        if key not in requests or response.get("status_code") != 200:
            continue
        body = response.get("body") or {}
        choices = body.get("choices") or [{}]
        usage = body.get("usage") or {}
        tokens_in, tokens_out = int(usage.get("prompt_tokens", 0)), int(
            usage.get("completion_tokens", 0))
        entry = CachedResponse(
            key=key, annotator=ann.cfg.name, backend=ann.backend.kind,
            model=ann.backend.model_id,
            request={"model": ann.cfg.model, "messages": requests[key],
                     "params": ann.cfg.params(), "batch_id": batch_id},
            response=(choices[0].get("message") or {}).get("content") or "",
            input_tokens=tokens_in, output_tokens=tokens_out,
            cost=ann.cost(tokens_in, tokens_out) * ann.cfg.batch_discount, seconds=0.0,
            run_id=run_id, created_at=now())
        job = jobs.get(key)
        proposals = ann.proposals(job, entry) if job else []
        store.cache_answer(entry, proposals)
        count(proposals, entry)
        answered.add(key)
    with store.transaction():
        store.conn.execute("UPDATE llm_batches SET finished_at=? WHERE batch_id=?",
                           (now(), batch_id))
    return set(requests) - answered


def run_batches(ann: Annotator, store: Store, todo: Sequence[Job], run_id: str,
                budget: Budget | None, count: Counter, poll_s: float) -> list[Job]:
    """Answer ``todo`` through batches: first resume this annotator's unfinished ones,
    then send the rest (within the budget, at batch prices), retrying failures in smaller
    batches. Returns the jobs left unanswered."""
    if ann.cfg.backend != "openai":
        raise ReplicoderError(f"annotator {ann.cfg.name!r}: --batch needs the openai backend "
                              "(a provider with files and batches endpoints)")
    jobs = {j.key: j for j in todo}
    for batch_id, requests in pending(store, ann.cfg.name):
        _collect(ann, store, batch_id, requests, jobs, run_id, poll_s, count)
    done = set(store.cached(list(jobs)))
    left = [j for j in todo if j.key not in done]
    for _round in range(1 + RETRIES):
        if not left:
            break
        costs = [worst_cost(ann.cfg, j.messages, batch=True) for j in left]
        wave = next(waves(budget, ann.cfg.name, costs), [])
        if not wave:
            break
        chosen = [left[i] for i in wave]
        batch_id = _send(ann, store, chosen, run_id)
        failed = _collect(ann, store, batch_id, {j.key: j.messages for j in chosen}, jobs,
                          run_id, poll_s, count)
        if budget is not None:
            paid = {k: e.cost for k, e in store.cached([j.key for j in chosen]).items()}
            for i in wave:
                budget.settle(ann.cfg.name, costs[i], paid.get(left[i].key, 0.0))
        left = [j for j in left if j.key in failed or j not in chosen]
    return left
