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
blocks whatever the block size, while the next window is tokenised in a background thread
and finished parts are written by another.
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

from replicoder import atomic, writers
from replicoder.cut_report import count_cut, cut_entry, cut_warning
from replicoder.errors import ReplicoderError
from replicoder.hashing import input_sha256
from replicoder.inference import load_model, result_table
from replicoder.models.chunks import Encoded
from replicoder.models.trained import TrainedModel
from replicoder.predictions import Predictions
from replicoder.progress import Progress, start
from replicoder.readers import documents, open_table
from replicoder.run import Run
from replicoder.study import Study

__all__ = ["ClassifyResult", "ClassifyStopped", "JOB", "classify"]

JOB = "job.json"


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


def _next_window(rows: Iterator[tuple[str, str]], block_size: int, size: int,
                 trained: TrainedModel, tokeniser: ThreadPoolExecutor
                 ) -> tuple[list[list[tuple[str, str]]], Future[Encoded | None]] | None:
    """The next ``size`` blocks of rows (read here), their tokenisation started in the
    background; None at the end of the input."""
    blocks: list[list[tuple[str, str]]] = []
    for _ in range(size):
        block = list(itertools.islice(rows, block_size))
        if not block:
            break
        blocks.append(block)
    if not blocks:
        return None
    texts = [r[1] for block in blocks for r in block]
    return blocks, tokeniser.submit(trained.encode, texts)


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
             text: str = "text", id_column: str | None = None, batch_size: int = 32,
             checkpoint_every: int = 1000, route_below: float | None = None,
             route_to: str | None = None, progress: Progress | None = None,
             stop_after: int | None = None, device: str | None = None) -> ClassifyResult:
    """Label every document of ``input`` (or the study) with models/``model``; write ``out``.

    ``stop_after``: stop after that many parts of this call (for tests; run again to resume).
    """
    out = Path(out)
    writers.check_output(out)
    if (route_below is None) != (route_to is None):
        raise ReplicoderError("routing needs both --route-below P and --route-to ANNOTATOR")
    if checkpoint_every < 1 or batch_size < 1:
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
    size = window_blocks(batch_size, checkpoint_every)
    # Windows start at multiples of their size, so a resumed job scores each document in
    # the same batch as an uninterrupted one: its first window is scored again whole.
    position = done - done % (size * checkpoint_every)
    rows = itertools.islice(rows, position, None)
    started = time.perf_counter()
    count, routed, parts_now = 0, 0, 0
    advance = start(progress, "classifying", total, done)
    pending: list[Future[None]] = []
    with ThreadPoolExecutor(1, thread_name_prefix="tokenise") as tokeniser, \
            ThreadPoolExecutor(1, thread_name_prefix="write") as writer:
        window = _next_window(rows, checkpoint_every, size, trained, tokeniser)
        while window is not None:
            blocks, encoding = window
            flat = [row for block in blocks for row in block]
            ids, texts = [r[0] for r in flat], [r[1] for r in flat]
            upcoming = _next_window(rows, checkpoint_every, size, trained, tokeniser)
            whole = trained.predict(texts, ids, batch_size, encoded=encoding.result())
            offset = 0
            for block in blocks:
                pred = whole.slice(offset, offset + len(block))
                offset += len(block)
                position += len(block)
                if position <= done:
                    continue  # written before the job was stopped
                extra = None
                if route_below is not None and route_to is not None:
                    pred, extra, n = _route(study, pred, [r[1] for r in block], route_below,
                                            route_to)
                    routed += n
                # One writer thread writes parts in order, so the parts on disk are always
                # a prefix of the job and resume counts them as done.
                pending.append(writer.submit(_write_part, pred, trained, extra,
                                             parts_dir / f"part-{done + count:012d}.parquet"))
                pending = _raise_failed(pending)
                count += len(block)
                parts_now += 1
                advance(len(block))
                if stop_after is not None and parts_now >= stop_after:
                    _wait(pending)
                    raise ClassifyStopped(
                        f"classify stopped after {done + count} documents as asked; run the "
                        "same command again to resume"
                    )
            window = upcoming
        _wait(pending)
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
        "model_manifest": trained.manifest,
        "seconds_this_call": seconds,
    }, copies=[out.with_name(out.name + ".manifest.json")])
    shutil.rmtree(parts_dir, ignore_errors=True)
    return ClassifyResult(out, done + count, done, seconds, count / seconds if seconds else 0.0,
                          routed, manifest, warnings, cut["documents"],
                          cut_warning(cut, done + count))


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


def id_warnings(parts: list[Path]) -> list[str]:
    """Empty or repeated ids in the output: rows a join on id would lose or multiply."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ids = pa.chunked_array([pq.read_table(p, columns=["id"])["id"] for p in parts])
    ids = pc.cast(ids, pa.string())
    out: list[str] = []
    empty = int(pc.sum(pc.equal(pc.utf8_trim_whitespace(ids.fill_null("")), "")).as_py() or 0)
    if empty:
        out.append(f"{empty:,} rows have an empty id")
    repeated = len(ids) - int(pc.count_distinct(ids, mode="all").as_py())
    if repeated:
        out.append(f"{repeated:,} rows repeat an id seen before (ids are not unique)")
    return out


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

