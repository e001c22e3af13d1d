"""``annotate --plan``: what a run would send and cost, computed without sending anything.

Input tokens are estimated at 4 characters per token plus 8 per message; output tokens are
the ``max_tokens`` ceiling, so cost is an upper bound (none for an annotator that
scores labels). Time assumes the rate limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from replicoder.annotate.budget import estimated_tokens
from replicoder.annotate.config import select
from replicoder.annotate.jobs import Annotator, choose_documents, doc_texts
from replicoder.annotate.runner import CHUNK
from replicoder.study import Study

__all__ = ["PlanRow", "plan"]


@dataclass(frozen=True)
class PlanRow:
    """One annotator's share of a planned run; ``seconds`` None when no rate limit is set."""

    annotator: str
    backend: str
    model: str
    documents: int
    cached: int  # documents already answered in the cache
    requests: int  # requests to send
    input_tokens: int
    output_tokens: int
    cost: float
    seconds: float | None
    batch_cost: float = 0.0  # the same requests at the batch price (--batch)


def plan(study: Study, annotators: list[str] | None = None, *, limit: int | None = None,
         sample: int | None = None, seed: int = 0) -> list[PlanRow]:
    """Requests, estimated tokens and cost, and time at the rate limit, per annotator."""
    configs = select(study, annotators)
    rows: list[PlanRow] = []
    with study.store() as store:
        ids = choose_documents(store, limit, sample, seed)
        for cfg in configs:
            ann = Annotator(study, cfg)
            cached = requests = tokens_in = 0
            for i in range(0, len(ids), CHUNK):
                jobs = ann.jobs(doc_texts(store, ids[i : i + CHUNK]))
                hits = store.cached([j.key for j in jobs])
                for job in jobs:
                    if job.key in hits:
                        cached += len(job.doc_ids)
                    else:
                        requests += 1
                        tokens_in += estimated_tokens(job.messages)
            tokens_out = 0 if cfg.scores else requests * cfg.max_tokens
            rpm = cfg.requests_per_minute
            rows.append(PlanRow(
                cfg.name, cfg.backend, cfg.model, len(ids), cached, requests, tokens_in,
                tokens_out, ann.cost(tokens_in, tokens_out),
                requests / rpm * 60 if rpm > 0 else None,
                ann.cost(tokens_in, tokens_out) * cfg.batch_discount,
            ))
    return rows
