"""Run annotators over the study's documents: cached, resumable, rate-limited.

Each answer is committed with its proposals the moment it arrives, so Ctrl-C or a crash
loses no finished answer, and the next run sends only what is not in the cache.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from replicoder.annotate.backends.base import Response
from replicoder.annotate.budget import Budget, estimated_tokens, spend_within, worst_cost
from replicoder.annotate.config import select
from replicoder.annotate.jobs import Annotator, Job, choose_documents, doc_texts
from replicoder.annotate.repeats import with_repeats
from replicoder.progress import Progress, Task, start
from replicoder.run import Run, now
from replicoder.store import Proposal, Store
from replicoder.store.cache import CachedResponse
from replicoder.study import Study

__all__ = ["CHUNK", "POLL_S", "AnnotateSummary", "AnnotatorSummary", "annotate", "annotate_texts"]

CHUNK = 256  # documents rendered and looked up in the cache at a time
POLL_S = 30.0  # seconds between looks at a batch (--batch)


@dataclass
class AnnotatorSummary:
    """What one annotator did in a run. Tokens and cost count requests sent in this run."""

    name: str
    backend: str
    model: str
    documents: int = 0
    cached: int = 0  # documents answered from the cache
    sent: int = 0  # requests sent (identical prompts share one)
    ok: int = 0
    unparsed: int = 0
    cut: int = 0  # documents cut to fit the model's context (with a note in the prompt)
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    left: int = 0  # documents not answered: a cost cap stopped them
    left_cost: float = 0.0  # what they would cost, estimated as --plan does
    stopped_by: str = ""  # the cap that stopped this annotator

    @property
    def docs_per_s(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


@dataclass
class AnnotateSummary:
    run_id: str
    manifest_path: Path
    status: str  # "finished", "interrupted" or "failed"
    annotators: list[AnnotatorSummary] = field(default_factory=list)


def _entry(ann: Annotator, job: Job, resp: Response, run_id: str) -> CachedResponse:
    return CachedResponse(
        key=job.key, annotator=ann.cfg.name, backend=ann.backend.kind,
        model=ann.backend.model_id,
        request={"model": ann.cfg.model, "messages": job.messages, "params": ann.cfg.params()},
        response=resp.text, input_tokens=resp.input_tokens, output_tokens=resp.output_tokens,
        cost=ann.cost(resp.input_tokens, resp.output_tokens), seconds=resp.seconds,
        run_id=run_id, created_at=now(),
    )


def _answers(ann: Annotator, jobs: list[Job]) -> Iterator[tuple[Job, Response]]:
    """Send ``jobs``; yield each answer as it arrives."""
    for i, resp in ann.backend.answer_all([j.messages for j in jobs]):
        yield jobs[i], resp


def _run_chunk(ann: Annotator, store: Store, docs: Sequence[tuple[str, str]], run_id: str,
               summary: AnnotatorSummary, step: Task, budget: Budget | None = None) -> None:
    todo = _from_cache(ann, store, docs, summary, step)
    costs = [worst_cost(ann.cfg, j.messages) for j in todo]

    def answer(wave: list[int]) -> Iterator[tuple[int, float]]:
        for k, resp in ann.backend.answer_all([todo[i].messages for i in wave]):
            job = todo[wave[k]]
            entry = _entry(ann, job, resp, run_id)
            proposals = ann.proposals(job, entry)
            store.cache_answer(entry, proposals)
            _sent(summary, step, proposals, entry)
            yield wave[k], entry.cost

    done = set(spend_within(budget, ann.cfg.name, costs, answer))
    _left(ann, summary, budget, [todo[i] for i in range(len(todo)) if i not in done])


def _sent(summary: AnnotatorSummary, step: Task, proposals: list[Proposal],
          entry: CachedResponse) -> None:
    _count(summary, proposals)
    summary.sent += 1
    summary.input_tokens += entry.input_tokens
    summary.output_tokens += entry.output_tokens
    summary.cost += entry.cost
    step(len(proposals))


def _left(ann: Annotator, summary: AnnotatorSummary, budget: Budget | None, left: list[Job],
          batch: bool = False) -> None:
    """Count the jobs a cap (or failures) left unanswered, and what they would cost."""
    if not left:
        return
    if budget is not None:
        cap = budget.blocking(ann.cfg.name, worst_cost(ann.cfg, left[0].messages, batch))
        summary.stopped_by = summary.stopped_by or (cap.what if cap else "a cost cap")
    for job in left:
        summary.left += len(job.doc_ids)
        summary.left_cost += ann.cost(estimated_tokens(job.messages), ann.cfg.max_tokens) * (
            ann.cfg.batch_discount if batch else 1.0)


def _from_cache(ann: Annotator, store: Store, docs: Sequence[tuple[str, str]],
                summary: AnnotatorSummary, step: Task) -> list[Job]:
    """Count the documents the cache answers (refreshing their proposals); the rest."""
    jobs = ann.jobs(docs)
    hits = store.cached([j.key for j in jobs])
    have = {p.doc_id: p.provenance.get("request_key")
            for p in store.proposals([d for d, _ in docs], ann.cfg.name)}
    todo: list[Job] = []
    stale: list[Proposal] = []
    for job in jobs:
        entry = hits.get(job.key)
        if entry is None:
            todo.append(job)
            continue
        proposals = ann.proposals(job, entry)
        _count(summary, proposals)
        summary.cached += len(proposals)
        stale += [p for p in proposals if have.get(p.doc_id) != job.key]
    if stale:
        store.add_proposals(stale)
    step(len(docs) - sum(len(j.doc_ids) for j in todo))
    return todo


def _count(summary: AnnotatorSummary, proposals: list[Proposal]) -> None:
    for p in proposals:
        summary.documents += 1
        summary.cut += bool(p.provenance.get("cut_tokens"))
        if p.status == "ok":
            summary.ok += 1
        else:
            summary.unparsed += 1


def annotate(study: Study, annotators: list[str] | None = None, *, limit: int | None = None,
             sample: int | None = None, seed: int = 0, progress: Progress | None = None,
             max_cost: float | None = None, batch: bool = False,
             poll_s: float = POLL_S, repeats: int = 1, temperature: float | None = None
             ) -> AnnotateSummary:
    """Let each annotator (all by default) propose labels for the chosen documents.

    ``sample`` draws N documents at random with ``seed``; ``limit`` keeps the first N.
    Cached answers are reused; only missing ones are sent. ``max_cost`` (USD) caps what
    these annotators spend in all, counted across runs (see annotate.budget); each
    annotator's ``max_cost`` caps its own. ``batch``: HTTP annotators send one batch
    (annotate.batch), polled every ``poll_s`` seconds. Writes a manifest to
    runs/<run_id>/manifest.json and the runs table, also when interrupted. ``repeats``
    asks each annotator K times (annotate.repeats), at ``temperature`` if given.
    """
    configs = with_repeats(select(study, annotators), repeats, temperature)
    run = Run.start(study, "annotate")
    summary = AnnotateSummary(run.run_id, run.manifest_path, "failed")
    with study.store() as store:
        ids = choose_documents(store, limit, sample, seed)
        preps = [Annotator(study, cfg) for cfg in configs]
        fields = _manifest(store, ids, preps, {"limit": limit, "sample": sample, "seed": seed})
        spent = {name: t["cost"] for name, t in store.cache_totals().items()}
        budget = Budget.of(configs, spent, max_cost)
        before = _caps(budget)
        try:
            for ann in preps:
                row = AnnotatorSummary(ann.cfg.name, ann.cfg.backend, ann.cfg.model)
                summary.annotators.append(row)
                step = start(progress, ann.cfg.name, len(ids))
                began = time.monotonic()
                try:
                    if batch and ann.cfg.backend == "openai":
                        _run_batch(ann, store, ids, run.run_id, row, step, budget, poll_s)
                        continue
                    for i in range(0, len(ids), CHUNK):
                        docs = doc_texts(store, ids[i : i + CHUNK])
                        _run_chunk(ann, store, docs, run.run_id, row, step, budget)
                finally:
                    row.seconds = time.monotonic() - began
                    row.retries = ann.backend.retries
            summary.status = "finished"
        except KeyboardInterrupt:
            summary.status = "interrupted"
            raise
        finally:
            run.write({**fields, "status": summary.status, "finished_at": now(),
                       "summary": [asdict(a) for a in summary.annotators],
                       "budget": {"max_cost": max_cost, "before": before,
                                  "after": _caps(budget)}})
    return summary


def _run_batch(ann: Annotator, store: Store, ids: list[str], run_id: str,
               summary: AnnotatorSummary, step: Task, budget: Budget | None, poll_s: float
               ) -> None:
    from replicoder.annotate.batch import run_batches

    todo: list[Job] = []
    for i in range(0, len(ids), CHUNK):
        todo += _from_cache(ann, store, doc_texts(store, ids[i : i + CHUNK]), summary, step)
    left = run_batches(ann, store, todo, run_id, budget,
                       lambda proposals, entry: _sent(summary, step, proposals, entry), poll_s)
    _left(ann, summary, budget, left, batch=True)


def _caps(budget: Budget | None) -> list[dict[str, Any]]:
    if budget is None:
        return []
    return [{"cap": c.what, "limit": c.limit, "spent": c.spent}
            for c in [budget.total, *budget.per.values()] if c is not None]


def _manifest(store: Store, ids: list[str], preps: list[Annotator],
              selection: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256()
    hashes = store.existing(ids)
    for doc_id in ids:
        digest.update(f"{doc_id}\t{hashes[doc_id].text_sha256}\n".encode())
    return {
        "selection": selection,
        "documents": {"count": len(ids), "sha256": digest.hexdigest()},
        "annotators": [{**a.cfg.public(), "model_id": a.backend.model_id,
                        "template_name": a.template.name, "template_sha256": a.template.sha256,
                        "template_source": a.template.source} for a in preps],
    }


def annotate_texts(study: Study, annotator: str, docs: list[tuple[str, str]]) -> list[Proposal]:
    """Proposals of one annotator for (doc_id, text) pairs, in order, through the cache.

    The documents need not be in the study; answers are cached, proposals are returned
    but not stored in the proposals table.
    """
    (cfg,) = select(study, [annotator])
    ann = Annotator(study, cfg)
    run_id = Run.start(study, "annotate-texts").run_id
    jobs = ann.jobs(docs)
    with study.store() as store:
        found = store.cached([j.key for j in jobs])
        by_doc: dict[str, Proposal] = {}
        for job in jobs:
            if job.key in found:
                by_doc.update((p.doc_id, p) for p in ann.proposals(job, found[job.key]))
        todo = [j for j in jobs if j.key not in found]
        for job, resp in _answers(ann, todo):
            entry = _entry(ann, job, resp, run_id)
            store.cache_answer(entry)
            by_doc.update((p.doc_id, p) for p in ann.proposals(job, entry))
    return [by_doc[doc_id] for doc_id, _ in docs]
