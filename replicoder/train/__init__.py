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
from replicoder.models.base import BaseModel, check_quantize, resolve
from replicoder.models.classifier import TEXT
from replicoder.models.folder import ModelFolder
from replicoder.models.length import LengthReport
from replicoder.models.runtime import choose, quiet
from replicoder.models.size import parameter_count
from replicoder.progress import Progress
from replicoder.run import Run, write_json
from replicoder.study import Study
from replicoder.train import classifier, generative, tfidf
from replicoder.train.config import TrainConfig
from replicoder.train.data import Example, data_sha256, gather
from replicoder.train.lengths import resolve_length
from replicoder.train.loop import CHECKPOINT, LoopResult, TrainingStopped
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


@dataclass
class _Plan:
    """What one run trains on, with which settings (defaults resolved)."""

    config: TrainConfig
    train_set: list[Example]
    validation: list[Example]
    notes: list[str]
    lengths: LengthReport


@dataclass
class _Fitted:
    """A fitted model and what goes into its folder besides the adapter."""

    model: Any
    metrics: dict[str, Any]
    result: LoopResult
    thresholds: dict[str, float] | None = None
    presence: str = "max"
    ensemble: Any = None
    instruction: str = ""
    max_new_tokens: int = 0


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
    config, notes = _check(study, config)
    quiet()
    device, bf16 = choose(config.device, config.precision)  # before any file is written
    check_quantize(config.quantize, device)
    base = resolve(config.base)
    plan = _plan(study, base, config, train_ids, notes)
    if say is not None:
        say(plan.lengths.line())
    run_key = {"config": plan.config.to_dict(), "train_sha256": data_sha256(plan.train_set),
               "validation_sha256": data_sha256(plan.validation)}
    _claim(folder.checkpoint, run_key)
    run = Run.start(study, "train")
    run.on_device(device, bf16)
    started = time.perf_counter()
    fitted = _fit(study, base, plan, folder.checkpoint, device, bf16, progress, stop_after)
    adapter_sha256 = _save(study, folder, plan, fitted)
    tfidf_sha256 = folder.save_ensemble(fitted.ensemble) if fitted.ensemble is not None \
        else None
    with study.store() as store:
        split_seed = store.split_seed()
    config = plan.config
    manifest = run.write({
        "name": name, "config": config.to_dict(),
        "base": {"name": base.name, "sha256": base.sha256,
                 "parameters": parameter_count(fitted.model, frozen_only=True)},
        "quantization": quant.record(config.quantize, bf16),
        "adapter_sha256": adapter_sha256, "tfidf_sha256": tfidf_sha256,
        "data": {"source": config.source, "n_train": len(plan.train_set),
                 "n_validation": len(plan.validation),
                 **{k: v for k, v in run_key.items() if k.endswith("sha256")}},
        "split_seed": split_seed, "train_seed": config.seed,
        "prompt": fitted.instruction or _prompt(config), "lengths": plan.lengths.to_dict(),
        "notes": plan.notes,
        "wall_seconds": time.perf_counter() - started, **(extra or {}),
    })
    folder.finish(manifest)
    return TrainResult(name, folder.path, fitted.metrics, manifest, plan.notes,
                       plan.lengths.to_dict())


def _check(study: Study, config: TrainConfig) -> tuple[TrainConfig, list[str]]:
    """``config`` with the codebook-dependent defaults decided; clear errors for settings
    the codebook cannot take."""
    multi = study.codebook.multi_label
    config, notes = ensemble_defaults(config, multi)
    if config.with_tfidf:
        tfidf.check(multi)
    if config.refit and multi:
        raise ReplicoderError("refit works with single-label codebooks only: a multi-label "
                              "model's thresholds need validation documents it has not seen")
    if config.label_smoothing and multi:
        raise ReplicoderError("label_smoothing smooths the softmax of single-label codebooks; "
                              "this codebook is multi-label: leave it at 0")
    return config, notes


def _plan(study: Study, base: BaseModel, config: TrainConfig,
          train_ids: Sequence[str] | None, notes: list[str]) -> _Plan:
    """The documents, the length read from them and the size-aware settings."""
    train_set, validation, gathered = gather(study, config, train_ids)
    config, lengths, chosen = resolve_length(base, config, [e.text for e in train_set])
    config, sized = size_defaults(config, len(train_set))
    notes = gathered + notes + chosen + sized
    if config.refit:
        notes.append(f"refit: trained on {len(train_set)} training and {len(validation)} "
                     f"validation documents for {config.epochs} epochs; the validation "
                     "figures are on documents the model saw")
        train_set = train_set + validation
    return _Plan(config, train_set, validation, notes, lengths)


def _claim(work: Path, run_key: dict[str, Any]) -> None:
    """Record what ``work`` trains, or check that an interrupted run there trained the
    same (settings and data), so that it can resume."""
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


def _fit(study: Study, base: BaseModel, plan: _Plan, work: Path, device: str, bf16: bool,
         progress: Progress | None, stop_after: int | None) -> _Fitted:
    book, config = study.codebook, plan.config
    if config.mode != "classifier":
        gen = generative.fit(base, book, config, plan.train_set, plan.validation, work,
                             device, bf16, progress=progress, stop_after=stop_after)
        return _Fitted(gen.scorer.model, _loop_figures(gen.validation, gen.result, config),
                       gen.result, instruction=gen.scorer.instruction,
                       max_new_tokens=gen.scorer.max_new_tokens)
    out = classifier.fit(base, book.codes, book.multi_label, config, plan.train_set,
                         plan.validation, work, device, bf16, progress=progress,
                         stop_after=stop_after, intensities=book.intensities)
    fitted = _Fitted(out.scorer.model, out.validation, out.result, presence=out.presence)
    if out.thresholds is not None:
        fitted.thresholds = dict(zip(book.codes, out.thresholds.tolist(), strict=True))
    if config.with_tfidf:
        fitted.ensemble, figures = tfidf.fit_ensemble(book.codes, config.seed, plan.train_set,
                                                      plan.validation, out.val_scores,
                                                      config.tfidf_weight)
        fitted.metrics = {**fitted.metrics, **figures}
    fitted.metrics = _loop_figures(fitted.metrics, out.result, config)
    return fitted


def _loop_figures(metrics: dict[str, Any], result: LoopResult, config: TrainConfig
                  ) -> dict[str, Any]:
    return {**metrics, "best_step": result.best_step, "steps": result.steps,
            "stopped_early": result.stopped_early, "train_seconds": result.seconds,
            **({"compilations": int(result.compilations or 0),
                "compilations_in_loop": int(result.compilations_in_loop or 0)}
               if config.compile else {})}


def _save(study: Study, folder: ModelFolder, plan: _Plan, fitted: _Fitted) -> str:
    """Write the adapter, settings, metrics and label map; the adapter's sha256."""
    book, config = study.codebook, plan.config
    return folder.save(
        fitted.model, settings=config.to_dict(), thresholds=fitted.thresholds,
        metrics={"split": "validation (trained on)" if config.refit else "validation",
                 **fitted.metrics, "lengths": plan.lengths.to_dict(),
                 "history": fitted.result.history},
        label_map={"mode": config.mode, "codes": book.codes, "multi_label": book.multi_label,
                   "names": {lab.code: lab.name for lab in book.labels},
                   "intensities": list(book.intensities), "presence": fitted.presence,
                   "instruction": fitted.instruction, "max_new_tokens": fitted.max_new_tokens})
