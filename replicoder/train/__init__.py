"""Fine-tune a small open LLM on the study's labels (LoRA; classifier or generative mode).

``train(study, name, config)`` fits and writes the model folder models/NAME (layout:
replicoder.models.folder). An interrupted run leaves models/NAME/checkpoint/ and resumes
from it. Loading a trained model back is replicoder.models.load_trained.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replicoder.errors import ReplicoderError
from replicoder.models import quant
from replicoder.models.base import check_quantize, resolve
from replicoder.models.classifier import TEXT
from replicoder.models.folder import ModelFolder
from replicoder.models.runtime import choose, quiet
from replicoder.models.size import parameter_count
from replicoder.progress import Progress
from replicoder.run import Run, write_json
from replicoder.study import Study
from replicoder.train import classifier, generative, tfidf
from replicoder.train.config import TrainConfig
from replicoder.train.data import data_sha256, gather
from replicoder.train.lengths import resolve_length
from replicoder.train.loop import CHECKPOINT, TrainingStopped
from replicoder.train.sizing import ensemble_defaults, size_defaults

__all__ = ["TrainConfig", "TrainResult", "TrainingStopped", "train"]


@dataclass
class TrainResult:
    """Where the model went and how training went (metrics on validation documents)."""

    name: str
    folder: Path
    metrics: dict[str, Any]
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)  # what was adjusted, for the user
    lengths: dict[str, Any] = field(default_factory=dict)  # models.length.LengthReport


def _prompt(config: TrainConfig) -> str | None:
    """The classifier's input template when it is more than the bare text."""
    return config.template if config.template != TEXT else None


def train(study: Study, name: str, config: TrainConfig, *,
          train_ids: Sequence[str] | None = None, progress: Progress | None = None,
          stop_after: int | None = None, say: Callable[[str], None] | None = None,
          extra: dict[str, Any] | None = None) -> TrainResult:
    """Fine-tune ``config.base`` on the study's training split (or ``train_ids``).

    ``extra``: more entries for the manifest (``--recipe``: the draft run).
    ``say`` receives what was measured of the documents' lengths before training starts
    (``--max-length auto`` resolved; also in metrics.json and the manifest, "lengths").

    Early-stops on the validation split. ``stop_after``: stop after that many optimizer
    steps of this call (raises TrainingStopped; run again to resume).
    """
    folder = ModelFolder.of(study.models_dir, name)
    if folder.finished:
        raise ReplicoderError(
            f"model {name!r} already exists in {folder.path}; choose another name or delete it"
        )
    config, notes_before = ensemble_defaults(config, study.codebook.multi_label)
    if config.with_tfidf:
        tfidf.check(study.codebook.multi_label)
    if config.refit and study.codebook.multi_label:
        raise ReplicoderError("refit works with single-label codebooks only: a multi-label "
                              "model's thresholds need validation documents it has not seen")
    if config.label_smoothing and study.codebook.multi_label:
        raise ReplicoderError("label_smoothing smooths the softmax of single-label codebooks; "
                              "this codebook is multi-label: leave it at 0")
    quiet()
    device, bf16 = choose(config.device, config.precision)  # before any file is written
    check_quantize(config.quantize, device)
    base = resolve(config.base)
    train_set, validation, notes = gather(study, config, train_ids)
    config, lengths = resolve_length(base, config, [e.text for e in train_set])
    config, sized = size_defaults(config, len(train_set))
    notes += notes_before + sized
    if say is not None:
        say(lengths.line())
    if config.refit:
        train_set = train_set + validation
        notes.append(f"refit: trained on {len(train_set) - len(validation)} training and "
                     f"{len(validation)} validation documents for {config.epochs} epochs; "
                     "the validation figures are on documents the model saw")
    run_key = {"config": config.to_dict(), "train_sha256": data_sha256(train_set),
               "validation_sha256": data_sha256(validation)}
    work = folder.checkpoint
    key_path = work / "run.json"
    # without a checkpoint nothing was trained yet (e.g. a setting failed at model load):
    # new settings may start afresh
    if key_path.is_file() and (work / CHECKPOINT).is_file():
        if json.loads(key_path.read_text("utf-8")) != run_key:
            raise ReplicoderError(
                f"{work} holds an interrupted training with other settings or data; run "
                f"it with the same settings, or delete {work} to start afresh"
            )
    else:
        write_json(key_path, run_key)
    run = Run.start(study, "train")
    run.on_device(device, bf16)
    book = study.codebook
    started = time.perf_counter()
    thresholds = None
    instruction = ""
    max_new = 0
    ensemble = None
    presence = "max"
    if config.mode == "classifier":
        out = classifier.fit(base, book.codes, book.multi_label, config, train_set, validation,
                             work, device, bf16, progress=progress, stop_after=stop_after,
                             intensities=book.intensities)
        model, metrics, result = out.scorer.model, out.validation, out.result
        presence = out.presence
        if out.thresholds is not None:
            thresholds = dict(zip(book.codes, out.thresholds.tolist(), strict=True))
        if config.with_tfidf:
            ensemble, figures = tfidf.fit_ensemble(book.codes, config.seed, train_set,
                                                   validation, out.val_scores,
                                                   config.tfidf_weight)
            metrics = {**metrics, **figures}
    else:
        gen = generative.fit(base, book, config, train_set, validation, work, device, bf16,
                             progress=progress, stop_after=stop_after)
        model, metrics, result = gen.scorer.model, gen.validation, gen.result
        instruction, max_new = gen.scorer.instruction, gen.scorer.max_new_tokens
    metrics = {**metrics, "best_step": result.best_step, "steps": result.steps,
               "stopped_early": result.stopped_early, "train_seconds": result.seconds,
               **({"compilations": int(result.compilations or 0),
                   "compilations_in_loop": int(result.compilations_in_loop or 0)}
                  if config.compile else {})}
    adapter_sha256 = folder.save(
        model, settings=config.to_dict(), thresholds=thresholds,
        metrics={"split": "validation (trained on)" if config.refit else "validation",
                 **metrics, "lengths": lengths.to_dict(), "history": result.history},
        label_map={"mode": config.mode, "codes": book.codes, "multi_label": book.multi_label,
                   "names": {lab.code: lab.name for lab in book.labels},
                   "intensities": list(book.intensities), "presence": presence,
                   "instruction": instruction, "max_new_tokens": max_new})
    tfidf_sha256 = folder.save_ensemble(ensemble) if ensemble is not None else None
    with study.store() as store:
        split_seed = store.split_seed()
    manifest = run.write({
        "name": name, "config": config.to_dict(),
        "base": {"name": base.name, "sha256": base.sha256,
                 "parameters": parameter_count(model, frozen_only=True)},
        "quantization": quant.record(config.quantize, bf16),
        "adapter_sha256": adapter_sha256, "tfidf_sha256": tfidf_sha256,
        "data": {"source": config.source, "n_train": len(train_set),
                 "n_validation": len(validation), **{k: v for k, v in run_key.items()
                                                     if k.endswith("sha256")}},
        "split_seed": split_seed, "train_seed": config.seed,
        "prompt": instruction or _prompt(config), "lengths": lengths.to_dict(),
        "notes": notes,
        "wall_seconds": time.perf_counter() - started, **(extra or {}),
    })
    folder.finish(manifest)
    return TrainResult(name, folder.path, metrics, manifest, notes, lengths.to_dict())
