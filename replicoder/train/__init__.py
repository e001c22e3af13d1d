"""Fine-tune a small open LLM on the study's labels (LoRA; classifier or generative mode).

``train(study, name, config)`` writes models/NAME: adapter/, label_map.json,
thresholds.json (multi-label classifier), metrics.json (validation), config.json and,
last, manifest.json. An interrupted run leaves models/NAME/checkpoint/ and resumes from it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.models.loading import resolve, weights_sha256
from replicoder.study import Study
from replicoder.train import classifier, generative
from replicoder.train.config import TrainConfig
from replicoder.train.data import data_sha256, gather
from replicoder.train.device import choose, quiet
from replicoder.train.loop import TrainingStopped
from replicoder.train.manifest import environment, now
from replicoder.train.trained import (
    ADAPTER,
    CONFIG,
    LABEL_MAP,
    MANIFEST,
    METRICS,
    THRESHOLDS,
    TrainedModel,
    load_trained,
    model_dir,
    zero_shot,
)

__all__ = ["TrainConfig", "TrainResult", "TrainedModel", "TrainingStopped", "load_trained",
           "train", "zero_shot"]

CHECKPOINTS = "checkpoint"


@dataclass
class TrainResult:
    """Where the model went and how training went (metrics on validation documents)."""

    name: str
    folder: Path
    metrics: dict[str, float]
    manifest: dict[str, Any]


def _write_json(path: Path, data: Any) -> None:
    atomic.write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def train(study: Study, name: str, config: TrainConfig, *,
          train_ids: Sequence[str] | None = None, progress: bool = True,
          stop_after: int | None = None) -> TrainResult:
    """Fine-tune ``config.base`` on the study's training split (or ``train_ids``).

    Early-stops on the validation split. ``stop_after``: stop after that many optimizer
    steps of this call (raises TrainingStopped; run again to resume).
    """
    folder = model_dir(study, name)
    if (folder / MANIFEST).is_file():
        raise ReplicoderError(
            f"model {name!r} already exists in {folder}; choose another name or delete it"
        )
    quiet()
    base = resolve(config.base)
    train_set, validation = gather(study, config, train_ids)
    run_key = {"config": config.to_dict(), "train_sha256": data_sha256(train_set),
               "validation_sha256": data_sha256(validation)}
    work = folder / CHECKPOINTS
    key_path = work / "run.json"
    if key_path.is_file():
        if json.loads(key_path.read_text("utf-8")) != run_key:
            raise ReplicoderError(
                f"{work} holds an interrupted training with other settings or data; run "
                f"it with the same settings, or delete {work} to start afresh"
            )
    else:
        _write_json(key_path, run_key)
    device, bf16 = choose(config.device, config.precision)
    book = study.codebook
    started = time.perf_counter()
    thresholds = None
    instruction = ""
    max_new = 0
    if config.mode == "classifier":
        out = classifier.fit(base, book.codes, book.multi_label, config, train_set, validation,
                             work, device, bf16, progress=progress, stop_after=stop_after)
        model, metrics, result, thresholds = out.scorer.model, out.validation, out.result, \
            out.thresholds
    else:
        gen = generative.fit(base, book, config, train_set, validation, work, device, bf16,
                             progress=progress, stop_after=stop_after)
        model, metrics, result = gen.scorer.model, gen.validation, gen.result
        instruction, max_new = gen.scorer.instruction, gen.scorer.max_new_tokens
    adapter = folder / ADAPTER
    shutil.rmtree(adapter, ignore_errors=True)
    model.save_pretrained(str(adapter))
    _write_json(folder / LABEL_MAP, {
        "mode": config.mode, "codes": book.codes, "multi_label": book.multi_label,
        "names": {lab.code: lab.name for lab in book.labels}, "instruction": instruction,
        "max_new_tokens": max_new})
    if thresholds is not None:
        _write_json(folder / THRESHOLDS, dict(zip(book.codes, thresholds.tolist(),
                                                  strict=True)))
    metrics = {**metrics, "best_step": result.best_step, "steps": result.steps,
               "stopped_early": result.stopped_early, "train_seconds": result.seconds}
    _write_json(folder / METRICS, {"split": "validation", **metrics,
                                   "history": result.history})
    config.save(folder / CONFIG)
    with study.store() as store:
        split_seed = store.split_seed()
    manifest = {
        "kind": "train", "name": name, "created_at": now(), "config": config.to_dict(),
        "base": {"name": base.name, "sha256": base.sha256},
        "adapter_sha256": weights_sha256(adapter),
        "codebook_sha256": book.sha256,
        "data": {"source": config.source, "n_train": len(train_set),
                 "n_validation": len(validation), **{k: v for k, v in run_key.items()
                                                     if k.endswith("sha256")}},
        "split_seed": split_seed, "seed": config.seed, "prompt": instruction or None,
        "wall_seconds": time.perf_counter() - started, **environment(device, bf16),
    }
    _write_json(folder / MANIFEST, manifest)
    with study.store() as store:
        store.add_run(f"train-{name}-{manifest['created_at']}", "train",
                      manifest["created_at"], manifest)
    shutil.rmtree(work, ignore_errors=True)
    return TrainResult(name, folder, metrics, manifest)
