"""Classify a corpus with a trained model: streaming, checkpointed, resumable.

Input: a CSV/TSV/JSONL/Parquet file (streamed row by row) or the study's own documents.
Output (format by extension: .parquet, .csv, .jsonl, .dta) has one row per document:
``id``, ``labels`` (codes joined by ";"), ``top_score``, ``score_<code>`` per label,
``model``, ``adapter_sha256`` and, with routing, ``answered_by`` and ``model_labels``.
Every ``checkpoint_every`` documents a Parquet part is written to OUT.parts/; a killed
job resumes after the last part, and the parts are joined into OUT at the end.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replicoder import atomic, writers
from replicoder.errors import ReplicoderError
from replicoder.inference import load_model, result_table
from replicoder.predictions import Predictions
from replicoder.progress import RateBars
from replicoder.readers import open_table
from replicoder.study import Study
from replicoder.train.manifest import environment, now
from replicoder.train.trained import TrainedModel

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


def _file_rows(path: Path, text: str, id_column: str | None) -> Iterator[tuple[str, str]]:
    table = open_table(path)
    missing = [c for c in (text, id_column) if c and c not in table.columns]
    if missing:
        raise ReplicoderError(
            f"{path}: no column {missing[0]!r}; the columns are: {', '.join(table.columns)}. "
            "Name the text column with --text and the id column with --id"
        )
    return _records(path, table, text, id_column)


def _records(path: Path, table: Any, text: str, id_column: str | None
             ) -> Iterator[tuple[str, str]]:
    for row_no, record in table.rows:
        value = record.get(text)
        body = "" if value is None else str(value)
        if not body.strip():
            raise ReplicoderError(
                f"{path}, {table.where} {row_no}: the text in column {text!r} is empty; "
                "remove the row or fill in its text"
            )
        doc_id = str(record.get(id_column)) if id_column else str(row_no)
        yield doc_id, body


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
             route_to: str | None = None, progress: bool = True,
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
    trained = load_model(study, model, device=device)
    source = {"path": str(Path(input).resolve()), "sha256": _sha(Path(input))} if input \
        else {"study": str(study.root.resolve())}
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
    rows = itertools.islice(rows, done, None)
    started = time.perf_counter()
    count, routed, parts_now = 0, 0, 0
    bars = RateBars(progress)
    advance = bars.add("classifying", total, done)
    try:
        while True:
            block = list(itertools.islice(rows, checkpoint_every))
            if not block:
                break
            ids, texts = [b[0] for b in block], [b[1] for b in block]
            pred = trained.predict(texts, ids, batch_size)
            extra = None
            if route_below is not None and route_to is not None:
                pred, extra, n = _route(study, pred, texts, route_below, route_to)
                routed += n
            writers.write_part(result_table(pred, trained, extra),
                               parts_dir / f"part-{done + count:012d}.parquet")
            count += len(block)
            parts_now += 1
            advance(len(block))
            if stop_after is not None and parts_now >= stop_after:
                raise ClassifyStopped(
                    f"classify stopped after {done + count} documents as asked; run the same "
                    "command again to resume"
                )
    finally:
        bars.close()
    if done + count == 0:
        raise ReplicoderError("the input has no documents to classify")
    parts = sorted(parts_dir.glob("part-*.parquet"))
    writers.assemble(parts, out)
    seconds = time.perf_counter() - started
    manifest = {
        "kind": "classify", "created_at": now(), **job, "output": str(out.resolve()),
        "documents": done + count, "resumed_from": done, "routed": routed,
        "model_manifest": trained.manifest, "seconds_this_call": seconds,
        **environment(_device(trained), _bf16(trained)),
    }
    run_id = f"classify-{manifest['created_at'].replace(':', '')}-{out.stem}"
    atomic.write_text(study.runs_dir / run_id / "manifest.json",
                      json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    atomic.write_text(out.with_name(out.name + ".manifest.json"),
                      json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    with study.store() as store:
        store.add_run(run_id, "classify", manifest["created_at"], manifest)
    shutil.rmtree(parts_dir, ignore_errors=True)
    return ClassifyResult(out, done + count, done, seconds, count / seconds if seconds else 0.0,
                          routed, manifest)


class ClassifyStopped(ReplicoderError):
    """Classification stopped on purpose; the parts written so far let it resume."""


def _sha(path: Path) -> str:
    from replicoder.importer import file_sha256

    if not path.exists():
        raise ReplicoderError(f"{path}: no such input file")
    return file_sha256(path)


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


def _device(model: TrainedModel) -> str:
    return str(model.scorer.device)


def _bf16(model: TrainedModel) -> bool:
    return bool(model.scorer.bf16)
