"""Classify a corpus across a Ray cluster with Ray Data: the only module that imports ray.

The driver plans deterministic blocks of each input file (``replicoder.classify.blocks``), skips
the blocks whose output part already exists, and hands the rest to Ray Data, which runs
them through a fixed pool of actors. Each actor loads the trained model once (merged
weights, on its GPU where the cluster has GPUs) and, per block, reads the rows, scores them
with the local engine's own function and writes ``part-<file hash>-<block>.parquet``
atomically. A killed job re-run with the same command does only the missing blocks.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from replicoder import atomic
from replicoder.classify.blocks import (
    Block,
    FilePlan,
    input_files,
    plan_file,
    read_block,
)
from replicoder.classify.cuts import count_cut, cut_entry, cut_warning
from replicoder.classify.ids import id_warnings
from replicoder.errors import ReplicoderError, summarise
from replicoder.hashing import input_sha256
from replicoder.io import writers
from replicoder.models.adapter_check import warn_adapter
from replicoder.models.folder import ModelFolder
from replicoder.progress import Progress, start
from replicoder.run import PACKAGES, Run, versions
from replicoder.study import Study

try:
    import ray
    import ray.data
except ImportError as exc:  # the optional extra is missing
    raise ReplicoderError(
        "the ray engine needs Ray: pip install 'replicoder[ray]' (or leave out --engine ray "
        "to classify on this machine)"
    ) from exc

__all__ = ["JOB", "RUN_MANIFEST", "BlockCoder", "RayClassifyResult", "classify_ray"]

JOB = "_job.json"
RUN_MANIFEST = "_manifest.json"


@dataclass
class RayClassifyResult:
    out: Path
    documents: int
    blocks: int
    resumed_blocks: int
    seconds: float
    docs_per_s: float
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    cut_warning: str | None = None


class BlockCoder:
    """A Ray Data actor: one model load, then read, score and write one block per call."""

    def __init__(self, study_root: str, model: str, device: str, threads: int, out: str,
                 text: str, id_column: str | None, batch_size: int) -> None:
        import torch

        from replicoder.classify.inference import load_model

        if device == "cpu":
            torch.set_num_threads(threads)
        started = time.perf_counter()
        self.model = load_model(study_root, model, device=device)
        self.load_seconds = time.perf_counter() - started
        self.out, self.text, self.id_column = Path(out), text, id_column
        self.batch_size = batch_size
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: pa.Table) -> dict[str, list[Any]]:
        from replicoder.classify.inference import score_texts

        done: dict[str, list[Any]] = {"key": [], "n": [], "seconds": [], "worker": [],
                                      "load_seconds": []}
        for item in batch.to_pylist():
            block = Block.from_dict(item)
            started = time.perf_counter()
            ids, texts, rows = read_block(block, self.text, self.id_column)
            table = score_texts(self.model, ids, texts, self.batch_size)
            table = table.append_column("input_file", pa.array([block.path] * len(ids)))
            table = table.append_column("input_row", pa.array(rows, pa.int64()))
            writers.write_part(table, self.out / f"part-{block.key}.parquet")
            done["key"].append(block.key)
            done["n"].append(len(ids))
            done["seconds"].append(time.perf_counter() - started)
            done["worker"].append(self.worker)
            done["load_seconds"].append(self.load_seconds)
        return done


def classify_ray(study: Study, model: str, input: str | Path, out: Path, *,
                 text: str = "text", id_column: str | None = None,
                 address: str | None = None, workers: int | None = None,
                 gpus_per_worker: float = 1.0, cpus_per_worker: int | None = None,
                 batch_size: int = 32, block_rows: int = 1000,
                 progress: Progress | None = None,
                 skip_unreadable: bool = False) -> RayClassifyResult:
    """Label every document of ``input`` (a file, folder or glob) with models/``model`` on
    Ray; write a Parquet dataset (one part per input block) into the folder ``out``.

    ``address`` None starts a local Ray on this machine (or uses the one this process has
    already started) and stops what it started. CPU workers share the cluster's CPUs
    unless ``cpus_per_worker`` (each worker's torch threads) is given. Files of a folder
    or glob that the engine cannot read stop it (listed), or with ``skip_unreadable`` are
    left out with a warning. Empty or repeated ids are warned about (``warnings``).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ReplicoderError(f"{out}: is a file; the ray engine writes a folder of Parquet "
                              "parts, so give --out a folder name")
    if block_rows < 1 or batch_size < 1:
        raise ReplicoderError("--checkpoint-every and --batch-size must be at least 1")
    if workers is not None and workers < 1:
        raise ReplicoderError("--workers must be at least 1")
    adapter_sha256, model_manifest = _model_manifest(study, model)
    files, skipped = input_files(input, skip_unreadable)
    warn_adapter(model, adapter_sha256, model_manifest)
    plans = [plan_file(path, input_sha256(path), block_rows, text, id_column)
             for path in files]
    blocks = [b for p in plans for b in p.blocks]
    if not blocks:
        raise ReplicoderError(f"{input}: the input has no documents to classify")
    job = {"engine": "ray", "model": model, "adapter_sha256": adapter_sha256, "text": text,
           "id": id_column, "checkpoint_every": block_rows}
    _check_job(out, job)
    done = {p.stem.removeprefix("part-") for p in out.glob("part-*.parquet")}
    pending = [b for b in blocks if b.key not in done]
    started = time.perf_counter()
    stats: list[dict[str, Any]] = []
    cluster: dict[str, Any] = {}
    setup: dict[str, Any] = {}
    if pending:
        cluster, setup, stats = _run(study, model, out, pending, text, id_column, address,
                                     workers, gpus_per_worker, cpus_per_worker,
                                     batch_size, progress,
                                     sum(b.n for b in blocks), sum(b.n for b in blocks
                                                                   if b.key in done))
    seconds = time.perf_counter() - started
    missing = [b.key for b in blocks if not (out / f"part-{b.key}.parquet").is_file()]
    if missing:
        raise ReplicoderError(f"{out}: blocks {', '.join(missing[:5])} were not written; run "
                              "the same command again to finish them")
    parts = [out / f"part-{b.key}.parquet" for b in blocks]
    documents = sum(writers.part_rows(p) for p in parts)
    warnings = ([f"left out {len(skipped):,} files the ray engine cannot read (--skip-"
                 f"unreadable): {summarise([_shown(p, input) for p in skipped])}"]
                if skipped else []) + id_warnings(parts)
    cut = cut_entry(study, model, count_cut(parts), documents)
    this_call = sum(s["n"] for s in stats)
    run = Run.start(study, "classify")
    manifest = run.write({
        **job, "inputs": [_file_entry(run, p) for p in plans], "output": run.relative(out),
        "documents": documents, "cut": cut, "blocks": len(blocks),
        "skipped_inputs": [run.relative(p) for p in skipped], "warnings": warnings,
        "resumed_blocks": len(blocks) - len(pending), "documents_this_call": this_call,
        "seconds_this_call": seconds, "docs_per_s_this_call": this_call / seconds
        if seconds else 0.0, "model_manifest": model_manifest, "cluster": cluster,
        **setup, "per_worker": _per_worker(stats), "machine": platform.machine(),
        "versions": versions((*PACKAGES, "ray")),
    }, copies=[out / RUN_MANIFEST])
    return RayClassifyResult(out, documents, len(blocks), len(blocks) - len(pending),
                             seconds, manifest["docs_per_s_this_call"], manifest, warnings,
                             cut_warning(cut, documents))


def _run(study: Study, model: str, out: Path, pending: list[Block], text: str,
         id_column: str | None, address: str | None, workers: int | None,
         gpus_per_worker: float, cpus_per_worker: int | None, batch_size: int,
         progress: Progress | None, total: int,
         done_before: int) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Run the pending blocks on Ray; (cluster resources, pool settings, per-block stats)."""
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise ReplicoderError(f"cannot reach a Ray cluster at {address}: {exc}; check "
                                  "--address (auto, or ray://HOST:10001)") from exc
    try:
        resources = {k: float(v) for k, v in ray.cluster_resources().items()
                     if k in ("CPU", "GPU", "memory", "object_store_memory")}
        cluster = {"address": address or "local", "resources": resources,
                   "nodes": sum(1 for n in ray.nodes() if n.get("Alive"))}
        setup = _pool(resources, workers, gpus_per_worker, cpus_per_worker)
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        items = [b.to_dict() for b in pending]
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            BlockCoder, batch_size=1, batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=setup["workers"]),
            num_cpus=setup["cpus_per_worker"], num_gpus=setup["gpus_per_worker"],
            fn_constructor_kwargs={
                "study_root": str(study.root.resolve()), "model": model,
                "device": setup["device"], "threads": setup["threads_per_worker"],
                "out": str(out.resolve()), "text": text, "id_column": id_column,
                "batch_size": batch_size,
            })
        stats: list[dict[str, Any]] = []
        advance = start(progress, f"classifying on {setup['workers']} Ray workers", total,
                        done_before)
        for row in ds.iter_rows():
            stats.append(dict(row))
            advance(int(row["n"]))
    finally:
        if started_here:
            ray.shutdown()
    return cluster, setup, stats


def _pool(resources: dict[str, float], workers: int | None, gpus_per_worker: float,
          cpus_per_worker: int | None) -> dict[str, Any]:
    """Actors and what each asks for: GPU actors where the cluster has GPUs, else CPU ones
    sharing the CPUs (each with as many torch threads as CPUs it holds)."""
    cpus, gpus = int(resources.get("CPU", 1)), resources.get("GPU", 0.0)
    if gpus > 0 and gpus_per_worker > 0:
        n = workers or max(1, int(gpus // gpus_per_worker))
        if n * gpus_per_worker > gpus:
            raise ReplicoderError(f"the cluster has {gpus:g} GPUs: {n} workers with "
                                  f"{gpus_per_worker:g} each do not fit; lower --workers")
        return {"workers": n, "device": "cuda", "gpus_per_worker": gpus_per_worker,
                "cpus_per_worker": 1, "threads_per_worker": 1}
    n = workers or 1
    threads = cpus_per_worker or max(1, cpus // n)
    if n * threads > cpus:
        raise ReplicoderError(f"the cluster has {cpus} CPUs, too few for {n} workers with "
                              f"{threads} each; lower --workers")
    return {"workers": n, "device": "cpu", "gpus_per_worker": 0, "cpus_per_worker": threads,
            "threads_per_worker": threads}


def _per_worker(stats: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for s in stats:
        w = out.setdefault(str(s["worker"]), {"documents": 0, "blocks": 0, "seconds": 0.0,
                                              "load_seconds": float(s["load_seconds"])})
        w["documents"] += int(s["n"])
        w["blocks"] += 1
        w["seconds"] += float(s["seconds"])
    for w in out.values():
        w["docs_per_s"] = w["documents"] / w["seconds"] if w["seconds"] else 0.0
    return out


def _model_manifest(study: Study, name: str) -> tuple[str, dict[str, Any]]:
    """(hash of the adapter on disk now, the model's manifest): the workers load that."""
    folder = ModelFolder.of(study.models_dir, name).require()
    return folder.adapter_sha256(), folder.manifest()


def _check_job(out: Path, job: dict[str, Any]) -> None:
    """Start the folder, or check that it holds the same job; drop half-written parts."""
    path = out / JOB
    if path.is_file():
        if json.loads(path.read_text("utf-8")) != job:
            raise ReplicoderError(
                f"{out} holds a job with another model or settings; run that again, or "
                "choose another --out (or delete the folder) to start afresh"
            )
    else:
        if out.is_dir() and any(out.iterdir()):
            raise ReplicoderError(f"{out}: the folder is not empty and holds no ray job; "
                                  "choose another --out")
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps(job, sort_keys=True))
    for tmp in out.glob(".part-*.tmp"):
        tmp.unlink(missing_ok=True)


def _shown(path: Path, input: str | Path) -> str:
    """A skipped file as the user knows it: relative to the input folder."""
    return (path.relative_to(input) if Path(input).is_dir() else path).as_posix()


def _file_entry(run: Run, plan: FilePlan) -> dict[str, Any]:
    return {"path": run.relative(plan.path), "sha256": plan.sha256, "format": plan.format,
            "documents": plan.documents, "blocks": len(plan.blocks)}
