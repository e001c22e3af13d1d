"""Classify a corpus with a trained model: streaming, checkpointed, resumable.

Input: a CSV/TSV/JSONL/Parquet file (streamed row by row) or the study's own documents.
Output (format by extension: .parquet, .csv, .jsonl, .dta) has one row per document:
``id``, ``labels`` (codes joined by ";"), ``top_score``, ``score_<code>`` per label,
``cut`` (the document was longer than the model reads and was cut; counted in the
manifest's ``cut``), ``model``, ``adapter_sha256`` and, with routing, ``answered_by`` and
``model_labels``.
Every ``checkpoint_every`` documents a Parquet part is written to OUT.parts/; a killed
job resumes after the last part, and the parts are joined into OUT at the end. Rows are
scored a window of blocks at a time (WINDOW_BATCHES batches), so batches are length-sorted across
blocks whatever the block size; the next window is read, tokenised and padded in a background
thread and queued on the device before this one is read back, and finished parts are decoded
and written by another (replicoder.windows).
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from replicoder import atomic
from replicoder.classify.cuts import count_cut, cut_entry, cut_warning
from replicoder.classify.ids import id_warnings
from replicoder.classify.inference import load_model, result_table
from replicoder.classify.windows import scored_windows
from replicoder.errors import ReplicoderError
from replicoder.hashing import input_sha256
from replicoder.io import writers
from replicoder.io.readers import documents, open_table
from replicoder.models.fastpath import default_batch
from replicoder.models.trained import TrainedModel
from replicoder.predictions import Predictions
from replicoder.progress import Progress, Task, start
from replicoder.run import Run
from replicoder.study import Study

__all__ = ["ClassifyResult", "ClassifyStopped", "JOB", "classify"]

JOB = "job.json"
BATCH = "batch.json"


@dataclass
class ClassifyResult:
    out: Path
    documents: int
    resumed_from: int
    seconds: float
    docs_per_s: float
    routed: int
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    cut: int = 0  # documents longer than the model reads, cut (manifest "cut")
    cut_warning: str | None = None


def _file_rows(path: Path, text: str, id_column: str | None) -> Iterator[tuple[str, str]]:
    rows = documents(open_table(path), text, id_column)
    return ((doc_id, body) for _, doc_id, body in rows)


def _study_rows(study: Study) -> tuple[Iterator[tuple[str, str]], int]:
    """The study's (id, text) rows and how many there are."""
    with study.store() as store:
        total = store.count_documents()
    if total == 0:
        raise ReplicoderError(
            f"{study.root}: the study has no documents; add some with `replicoder import` "
            "or give an input file"
        )
    return _documents(study), total


def _documents(study: Study) -> Iterator[tuple[str, str]]:
    with study.store() as store:
        for doc in store.iter_documents():
            yield doc.doc_id, doc.text


WINDOW_BATCHES = 16  # batches scored together: length sorting and full batches span blocks


def window_blocks(batch_size: int, checkpoint_every: int) -> int:
    """Checkpoint blocks read and scored together: enough for WINDOW_BATCHES full,
    length-sorted batches whatever the block size (a part is still written per block)."""
    return max(1, -(-(WINDOW_BATCHES * batch_size) // checkpoint_every))


@dataclass(frozen=True)
class Routing:
    """Documents whose top score is under ``below`` go ``to`` an annotator of
    replicoder.toml (its answer kept where it could be read) or to "review" (the model's
    labels become proposals in the review queue)."""

    below: float
    to: str

    @classmethod
    def of(cls, below: float | None, to: str | None) -> Routing | None:
        if (below is None) != (to is None):
            raise ReplicoderError("routing needs both --route-below P and --route-to "
                                  "ANNOTATOR (or review)")
        return None if below is None or to is None else cls(below, to)

    def apply(self, study: Study, model: str, pred: Predictions, texts: list[str]
              ) -> tuple[Predictions, dict[str, Any], int]:
        """(predictions as routed, the output's extra columns, documents routed)."""
        if self.to == "review":
            from replicoder.review.routing import to_review

            extra, n = to_review(study, model, pred, self.below)
            return pred, extra, n
        return _route(study, pred, texts, self.below, self.to)


def _route(study: Study, pred: Predictions, texts: list[str], below: float,
           annotator: str) -> tuple[Predictions, dict[str, Any], int]:
    """Send documents whose top score is below ``below`` to ``annotator``; keep its answer
    when it could be read, the model's otherwise."""
    from replicoder.annotate.runner import annotate_texts

    assert pred.scores is not None
    low = [i for i in range(len(texts)) if float(pred.scores[i].max()) < below]
    labels = list(pred.labels)
    used = ["model"] * len(texts)
    if low:
        answers = annotate_texts(study, annotator, [(pred.doc_ids[i], texts[i]) for i in low])
        for i, proposal in zip(low, answers, strict=True):
            if proposal.status == "ok":
                labels[i] = proposal.labels
                used[i] = annotator
            else:
                used[i] = "model (annotator answer unreadable)"
    extra = {"answered_by": used,
             "model_labels": [";".join(c for c in pred.codes if c in s) for s in pred.labels]}
    routed = Predictions(pred.model, pred.doc_ids, labels, pred.codes, pred.scores,
                         pred.provenance)
    return routed, extra, sum(u == annotator for u in used)


def classify(study: Study, model: str, out: Path, *, input: Path | None = None,
             text: str = "text", id_column: str | None = None, batch_size: int | None = None,
             checkpoint_every: int = 1000, route_below: float | None = None,
             route_to: str | None = None, progress: Progress | None = None,
             stop_after: int | None = None, device: str | None = None) -> ClassifyResult:
    """Label every document of ``input`` (or the study) with models/``model``; write ``out``.

    ``stop_after``: stop after that many parts of this call (for tests; run again to resume).
    ``batch_size`` None: the batch an interrupted run of the job used, else the device's
    default (fastpath.default_batch: 32 on the CPU, 512-1024 on cuda).
    ``route_below`` / ``route_to``: :class:`Routing`.
    """
    out = Path(out)
    writers.check_output(out)
    routing = Routing.of(route_below, route_to)
    if checkpoint_every < 1 or (batch_size is not None and batch_size < 1):
        raise ReplicoderError("--checkpoint-every and --batch-size must be at least 1")
    _check_writable(study)
    trained = load_model(study, model, device=device)
    run = Run.start(study, "classify")
    run.on_device(trained.device, trained.bf16)
    source = {"path": run.relative(input), "sha256": _sha(Path(input))} if input \
        else {"study": "."}
    job = {"model": model, "adapter_sha256": trained.adapter_sha256, "input": source,
           "text": text, "id": id_column, "checkpoint_every": checkpoint_every,
           "route_below": route_below, "route_to": route_to}
    total: int | None = None
    if input:
        rows = _file_rows(Path(input), text, id_column)
    else:
        rows, total = _study_rows(study)
    parts_dir = out.with_name(out.name + ".parts")
    done = _resume(parts_dir, job)
    batch_size = _batch(parts_dir, batch_size, trained.device)
    started = time.perf_counter()
    job_run = _Job(study, model, trained, parts_dir, checkpoint_every, batch_size, routing,
                   done)
    count, routed = job_run.write(rows, start(progress, "classifying", total, done),
                                  stop_after)
    if done + count == 0:
        raise ReplicoderError("the input has no documents to classify")
    parts = sorted(parts_dir.glob("part-*.parquet"))
    warnings = id_warnings(parts)
    cut = cut_entry(study, model, count_cut(parts), done + count)
    writers.assemble(parts, out)
    seconds = time.perf_counter() - started
    manifest = run.write({
        **job, "output": run.relative(out), "documents": done + count, "resumed_from": done,
        "routed": routed, "warnings": warnings, "cut": cut,
        "model_manifest": trained.manifest, "batch_size": batch_size,
        "base_loading": {"quantization": trained.quantization, "merged": trained.merged},
        "seconds_this_call": seconds,
    }, copies=[out.with_name(out.name + ".manifest.json")])
    shutil.rmtree(parts_dir, ignore_errors=True)
    if routing is not None and routing.to == "review":
        from replicoder.review.routing import record_route

        record_route(study, run.run_id, model, routing.below, routed)
    return ClassifyResult(out, done + count, done, seconds, count / seconds if seconds else 0.0,
                          routed, manifest, warnings, cut["documents"],
                          cut_warning(cut, done + count))


@dataclass
class _Job:
    """One call of a classify job: scores windows of rows and writes a part per block."""

    study: Study
    model: str
    trained: TrainedModel
    parts_dir: Path
    block_size: int
    batch_size: int
    routing: Routing | None
    done: int  # documents written by earlier calls

    def write(self, rows: Iterator[tuple[str, str]], advance: Task,
              stop_after: int | None) -> tuple[int, int]:
        """(documents written by this call, documents routed). ``stop_after``: raise
        ClassifyStopped after that many parts."""
        size = window_blocks(self.batch_size, self.block_size)
        # Windows start at multiples of their size, so a resumed job scores each document
        # in the same batch as an uninterrupted one: its first window is scored again whole.
        position = self.done - self.done % (size * self.block_size)
        rows = itertools.islice(rows, position, None)
        count, routed, parts_now = 0, 0, 0
        pending: list[Future[None]] = []
        with ThreadPoolExecutor(1, thread_name_prefix="read") as reader, \
                ThreadPoolExecutor(1, thread_name_prefix="write") as writer:
            for window, scored in scored_windows(rows, self.block_size, size, self.trained,
                                                 self.batch_size, reader):
                whole = scored if isinstance(scored, Predictions) else None
                if whole is None and self.routing is not None:
                    assert isinstance(scored, np.ndarray)
                    whole = self.trained.decide(window.texts, window.ids, scored, window.cut)
                offset = 0
                for block in window.blocks:
                    start_row, offset = offset, offset + len(block)
                    position += len(block)
                    if position <= self.done:
                        continue  # written before the job was stopped
                    path = self.parts_dir / f"part-{self.done + count:012d}.parquet"
                    # One writer thread decodes and writes parts in order, so the parts on
                    # disk are always a prefix of the job and resume counts them as done.
                    if whole is None:
                        assert isinstance(scored, np.ndarray)
                        pending.append(writer.submit(
                            _decide_and_write, self.trained, block, scored[start_row:offset],
                            window.cut[start_row:offset], path))
                    else:
                        pred, extra = whole.slice(start_row, offset), None
                        if self.routing is not None:
                            pred, extra, n = self.routing.apply(
                                self.study, self.model, pred, [r[1] for r in block])
                            routed += n
                        pending.append(writer.submit(_write_part, pred, self.trained, extra,
                                                     path))
                    pending = _raise_failed(pending)
                    count += len(block)
                    parts_now += 1
                    advance(len(block))
                    if stop_after is not None and parts_now >= stop_after:
                        _wait(pending)
                        raise ClassifyStopped(
                            f"classify stopped after {self.done + count} documents as asked; "
                            "run the same command again to resume")
            _wait(pending)
        return count, routed


def _decide_and_write(trained: TrainedModel, block: list[tuple[str, str]],
                      scores: np.ndarray, cut: list[bool], path: Path) -> None:
    pred = trained.decide([r[1] for r in block], [r[0] for r in block], scores, cut)
    writers.write_part(result_table(pred, trained), path)


def _write_part(pred: Predictions, trained: TrainedModel, extra: dict[str, Any] | None,
                path: Path) -> None:
    writers.write_part(result_table(pred, trained, extra), path)


def _raise_failed(pending: list[Future[None]]) -> list[Future[None]]:
    """Drop finished writes, raising the first one that failed."""
    for future in pending:
        if future.done():
            future.result()
    return [f for f in pending if not f.done()]


def _wait(pending: list[Future[None]]) -> None:
    for future in pending:
        future.result()


def _check_writable(study: Study) -> None:
    """Fail before any work, not after it: the run record goes into the study."""
    with study.store() as store:
        store.check_writable()
    try:
        study.runs_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=study.runs_dir):
            pass
    except OSError as exc:
        raise ReplicoderError(
            f"{study.runs_dir}: cannot write the run record ({exc.strerror}); make the study "
            "folder writable or copy it somewhere writable before classifying"
        ) from None


class ClassifyStopped(ReplicoderError):
    """Classification stopped on purpose; the parts written so far let it resume."""


def _sha(path: Path) -> str:
    if not path.exists():
        raise ReplicoderError(f"{path}: no such input file")
    return input_sha256(path)


def _batch(parts_dir: Path, batch_size: int | None, device: str) -> int:
    """The batch size of this call, recorded beside the parts: without --batch-size, a
    resumed job keeps the one it started with (the same batches, whatever memory is free)."""
    path = parts_dir / BATCH
    if batch_size is None:
        recorded = json.loads(path.read_text("utf-8")) if path.is_file() else None
        batch_size = int(recorded) if isinstance(recorded, int) else default_batch(device)
    atomic.write_text(path, json.dumps(batch_size))
    return batch_size


def _resume(parts_dir: Path, job: dict[str, Any]) -> int:
    """Documents already done by an earlier run of the same job (0 for a new job)."""
    job_path = parts_dir / JOB
    if not job_path.is_file():
        shutil.rmtree(parts_dir, ignore_errors=True)
        atomic.write_text(job_path, json.dumps(job, sort_keys=True))
        return 0
    if json.loads(job_path.read_text("utf-8")) != job:
        raise ReplicoderError(
            f"{parts_dir} holds an unfinished job with another model, input or settings; "
            "run that again, or delete the folder to start afresh"
        )
    done = 0
    for part in sorted(parts_dir.glob("part-*.parquet")):
        if int(part.stem.split("-")[1]) != done:
            raise ReplicoderError(f"{part}: parts are not contiguous; delete {parts_dir}")
        done += writers.part_rows(part)
    return done

