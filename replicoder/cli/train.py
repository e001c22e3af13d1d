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
    epochs: Annotated[int | None, typer.Option(
        help=HELP["epochs"] + " Default 3; a small training set gets enough epochs for at "
             "least 100 optimizer steps, at most 12.")] = None,
    seed: Annotated[int, option("seed")] = DEFAULTS.seed,
    lr: Annotated[float | None, typer.Option(
        help="Learning rate of the LoRA weights (default: 3e-4 for classifier, 1e-3 for "
             "generative and for a classifier trained on fewer than 1,000 documents).")
    ] = None,
    batch_size: Annotated[int, option("batch_size")] = DEFAULTS.batch_size,
    max_length: Annotated[str, typer.Option(
        help="Tokens the model reads per document (per window with --long chunk), or auto: "
             "the 95th percentile of the training documents' lengths, at least 64, at most "
             "--length-cap and the base model's context. The choice and how many documents "
             "are longer are printed and saved with the model.")] = "auto",
    length_cap: Annotated[int, option("length_cap")] = DEFAULTS.length_cap,
    long: Annotated[Literal["truncate", "head-tail", "chunk"], option("long")] = "truncate",
    lora_r: Annotated[int, option("lora_r")] = DEFAULTS.lora_r,
    lora_layers: Annotated[int, option("lora_layers")] = DEFAULTS.lora_layers,
    label_smoothing: Annotated[float | None, option("label_smoothing")] = None,
    precision: Annotated[str, option("precision")] = DEFAULTS.precision,
    base_dtype: Annotated[str, option("base_dtype")] = DEFAULTS.base_dtype,
    device: Annotated[str | None, option("device")] = DEFAULTS.device,
    quantize: Annotated[Literal["4bit"] | None, option("quantize")] = None,
    compile: Annotated[bool, option("compile", "--compile/--no-compile")] = DEFAULTS.compile,
    with_tfidf: Annotated[bool | None, option("with_tfidf", "--with-tfidf/--no-with-tfidf")]
    = None,
    tfidf_weight: Annotated[float | None, option("tfidf_weight")] = DEFAULTS.tfidf_weight,
    refit: Annotated[bool, option("refit", "--refit/--no-refit")] = DEFAULTS.refit,
    template: Annotated[str, option("template")] = DEFAULTS.template,
    checkpoint_minutes: Annotated[float, option("checkpoint_minutes")]
    = DEFAULTS.checkpoint_minutes,
    recipe: Annotated[Literal["best"] | None, typer.Option(
        help="best: the most accurate recipe measured, in one command: a draft NAME-draft "
             "with --with-tfidf --label-smoothing 0.1 (plus your settings), then NAME refit "
             "on training + validation documents for the draft's --epochs with its TF-IDF "
             "weight and --base-dtype bf16. Single-label classifier only; a rerun reuses a "
             "finished draft.")] = None,
    study: StudyOption = Path("."),
) -> None:
    """Fine-tune a small open LLM (LoRA) on the study's labelled training documents.

    Uses the study's fixed train/validation/test split (made on first use, kept in
    study.db), stops early on validation, and writes models/NAME: the adapter, label
    map, thresholds, metrics.json (validation) and manifest.json. If interrupted, run
    the same command again: training resumes from its last checkpoint.

    Example: replicoder train bills --epochs 3 --study my-study
    Best recipe in one command: replicoder train bills --recipe best
    """
    from replicoder.models.length import parse_max_length
    from replicoder.train import train as run_train

    given = {k: v for k, v in locals().items() if k in HELP}
    config = TrainConfig(**{**given, "template": template.replace("\\n", "\n"),
                            "epochs": epochs or DEFAULTS.epochs, "auto_epochs": epochs is None,
                            "max_length": parse_max_length(max_length)})

    def say(line: str) -> None:
        console.print(line if line.startswith("recipe") else f"Lengths: {line}.")

    st = study_at(study)
    with Bars("steps") as progress:
        if recipe is not None:
            from replicoder.train.recipe import check, train_recipe

            check(st, config, recipe)
            result = train_recipe(st, name, config, recipe, progress=progress, say=say)
        else:
            result = run_train(st, name, config, progress=progress, say=say)
    m = result.metrics
    loss = f", loss {m['validation_loss']:.3f}" if "validation_loss" in m else ""
    console.print(
        f"Trained [bold]{name}[/] on {result.manifest['data']['n_train']} documents in "
        f"{m['train_seconds'] / 60:.1f} min: validation accuracy {m['subset_accuracy']:.3f}, "
        f"macro-F1 {m['f1_macro'] or 0:.3f}{loss}. Saved in {result.folder}."
    )
    for note in result.notes:
        console.print(f"Note: {note}.")
