"""Command: train, a LoRA fine-tune whose options come from TrainConfig."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from replicoder.cli.common import StudyOption, console, study_at
from replicoder.cli.progress import Bars
from replicoder.train.config import HELP, Mode, Source, TrainConfig

DEFAULTS = TrainConfig()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("train")(train)


def option(name: str, *flags: str) -> Any:
    """A `train` option whose help is TrainConfig's own (one place for both)."""
    return typer.Option(*flags, help=HELP[name].replace("[", "\\["))  # not rich markup


def train(
    name: Annotated[str, typer.Argument(help="Name of the model; it is saved in models/NAME.")],
    base: Annotated[str, option("base")] = DEFAULTS.base,
    mode: Annotated[Mode, option("mode")] = "classifier",
    source: Annotated[Source, option("source", "--from")] = "gold",
    train_size: Annotated[int | None, option("train_size")] = DEFAULTS.train_size,
    epochs: Annotated[int, option("epochs")] = DEFAULTS.epochs,
    seed: Annotated[int, option("seed")] = DEFAULTS.seed,
    lr: Annotated[float | None, option("lr")] = None,
    batch_size: Annotated[int, option("batch_size")] = DEFAULTS.batch_size,
    max_length: Annotated[int, option("max_length")] = DEFAULTS.max_length,
    lora_r: Annotated[int, option("lora_r")] = DEFAULTS.lora_r,
    lora_layers: Annotated[int, option("lora_layers")] = DEFAULTS.lora_layers,
    label_smoothing: Annotated[float, option("label_smoothing")] = DEFAULTS.label_smoothing,
    precision: Annotated[str, option("precision")] = DEFAULTS.precision,
    base_dtype: Annotated[str, option("base_dtype")] = DEFAULTS.base_dtype,
    device: Annotated[str | None, option("device")] = DEFAULTS.device,
    quantize: Annotated[Literal["4bit"] | None, option("quantize")] = None,
    compile: Annotated[bool, option("compile", "--compile/--no-compile")] = DEFAULTS.compile,
    with_tfidf: Annotated[bool, option("with_tfidf", "--with-tfidf/--no-with-tfidf")]
    = DEFAULTS.with_tfidf,
    tfidf_weight: Annotated[float | None, option("tfidf_weight")] = DEFAULTS.tfidf_weight,
    refit: Annotated[bool, option("refit", "--refit/--no-refit")] = DEFAULTS.refit,
    template: Annotated[str, option("template")] = DEFAULTS.template,
    checkpoint_minutes: Annotated[float, option("checkpoint_minutes")]
    = DEFAULTS.checkpoint_minutes,
    study: StudyOption = Path("."),
) -> None:
    """Fine-tune a small open LLM (LoRA) on the study's labelled training documents.

    Uses the study's fixed train/validation/test split (made on first use, kept in
    study.db), stops early on validation, and writes models/NAME: the adapter, label
    map, thresholds, metrics.json (validation) and manifest.json. If interrupted, run
    the same command again: training resumes from its last checkpoint.

    Example: replicoder train bills --epochs 3 --study my-study
    """
    from replicoder.train import train as run_train

    given = {k: v for k, v in locals().items() if k in HELP}
    config = TrainConfig(**{**given, "template": template.replace("\\n", "\n")})
    with Bars("steps") as progress:
        result = run_train(study_at(study), name, config, progress=progress)
    m = result.metrics
    loss = f", loss {m['validation_loss']:.3f}" if "validation_loss" in m else ""
    console.print(
        f"Trained [bold]{name}[/] on {result.manifest['data']['n_train']} documents in "
        f"{m['train_seconds'] / 60:.1f} min: validation accuracy {m['subset_accuracy']:.3f}, "
        f"macro-F1 {m['f1_macro'] or 0:.3f}{loss}. Saved in {result.folder}."
    )
    for note in result.notes:
        console.print(f"Note: {note}.")
