"""Commands that make and fill a study: init, import, info, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from replicoder import importer
from replicoder import study as study_mod
from replicoder.cli.common import StudyOption, console, study_at
from replicoder.cli.tables import label_table
from replicoder.errors import listed


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("import")(import_)
    app.command("info")(info)
    app.command("demo")(demo)


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the study in.")],
    codebook: Annotated[
        str, typer.Option(help="'cap' (CAP major topics, built in) or a path to a YAML codebook.")
    ] = "cap",
    multi_label: Annotated[
        bool | None,
        typer.Option(
            "--multi-label/--single-label",
            help="Override the codebook's setting: may a document carry several labels?",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for splits and sampling.")] = 0,
    test_fraction: Annotated[float, typer.Option(
        help="Share of the labelled documents held out as the test part of the study's "
             "split (made once, at the first train or evaluate).")] = study_mod.TEST_FRACTION,
    validation_fraction: Annotated[float, typer.Option(
        help="Share held out for validation (early stopping, thresholds); at least half "
             "of the labelled documents must remain for training.")
    ] = study_mod.VALIDATION_FRACTION,
) -> None:
    """Create a study folder: replicoder.toml, codebook.yaml and study.db (SQLite, WAL).

    Example: replicoder init my-study --codebook cap
    """
    study = study_mod.init(directory, codebook, multi_label=multi_label, seed=seed,
                           test_fraction=test_fraction,
                           validation_fraction=validation_fraction)
    book = study.codebook
    kind = "multi-label" if book.multi_label else "single-label"
    console.print(
        f"Created study [bold]{directory}[/] with codebook '{book.name}' "
        f"({len(book)} labels, {kind})."
    )


def import_(
    file: Annotated[Path, typer.Argument(help="CSV, TSV, JSONL, Parquet (optionally .gz) "
                                              "or a folder of .txt files.")],
    text: Annotated[str | None, typer.Option(help="Column with the document text.")] = None,
    id: Annotated[
        str | None, typer.Option("--id", help="Column with a unique document id "
                                              "(default: a hash of the text).")
    ] = None,
    labels: Annotated[
        str | None, typer.Option(help="Column with gold label codes (or names or aliases); "
                                 "in a graded codebook each as name:intensity, e.g. "
                                 "'happiness:high;resilience:low'.")
    ] = None,
    sep: Annotated[str, typer.Option(help="Separator between several labels in one cell.")] = ";",
    labels_format: Annotated[
        importer.LabelsFormat, typer.Option(
            help="How --labels cells are written: 'list' (codes or names joined by --sep) or "
            "'dict' (a Python-dict literal of name to intensity, "
            "\"{'happiness': 'high'}\", as in the flourishing study's answers.csv; read as a "
            "literal, never run).")
    ] = "list",
    meta: Annotated[
        list[str] | None, typer.Option(help="Column to keep as metadata (repeatable).")
    ] = None,
    unknown_labels: Annotated[
        importer.UnknownLabels,
        typer.Option(
            help="Labels not in the codebook: 'error' stops and lists them; 'drop' leaves "
            "those rows out; 'keep' imports the documents with their known labels only."
        ),
    ] = "error",
    empty: Annotated[
        importer.EmptyTexts, typer.Option(help="Rows with an empty text: 'error' stops; "
                                               "'skip' leaves them out and counts them.")
    ] = "error",
    empty_labels: Annotated[
        importer.EmptyLabels, typer.Option(
            help="Rows whose label cell is empty: 'unlabelled' imports them without gold "
            "labels; 'none' (multi-label codebooks) imports them as verified 'no label "
            "applies'.")
    ] = "unlabelled",
    encoding: Annotated[str, typer.Option(
        help="Text encoding of the file (a Python codec name: utf-8, cp1252, latin-1).")
    ] = "utf-8",
    update_labels: Annotated[bool, typer.Option(
        "--update-labels", help="Documents already in the study whose gold labels the file "
        "changes get the file's labels (recorded in the run manifest); without it such a "
        "change stops the import.")] = False,
    study: StudyOption = Path("."),
) -> None:
    """Import documents (and optional gold labels) into the study.

    Streams the file in one transaction: on any error nothing is imported. Re-importing
    the same file adds nothing.

    Example: replicoder import bills.csv --text text --id id --labels major_topic

    Graded: replicoder import answers.csv --text text --id id --labels answer
    --labels-format dict
    """
    st = study_at(study)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(), console=console, transient=True,
    ) as bar:
        task = bar.add_task(f"importing {file.name}", total=None)
        result = importer.import_file(
            st, file, text=text, id=id, labels=labels, sep=sep, labels_format=labels_format,
            meta=meta or [], unknown_labels=unknown_labels, empty=empty,
            empty_labels=empty_labels, encoding=encoding, update_labels=update_labels,
            progress=lambda n: bar.update(task, completed=n),
        )
    report_import(result)


def report_import(result: importer.ImportResult) -> None:
    """What an import did, in a few lines."""
    console.print(
        f"Read {result.rows_read:,} rows: added {result.added:,} documents "
        f"({result.labelled_added:,} labelled), {result.already_present:,} already present."
    )
    if result.gold_filled:
        console.print(f"Gave gold labels to {result.gold_filled:,} documents that had none.")
    if result.gold_updated:
        console.print(f"Replaced the gold labels of {result.gold_updated:,} documents "
                      "(--update-labels; listed in the run manifest).")
    if result.skipped_empty:
        console.print(f"Skipped {result.skipped_empty:,} rows with an empty text.")
    if result.dropped_unknown:
        codes = listed([repr(c) for c in result.unknown_labels])
        console.print(f"Left out {result.dropped_unknown:,} rows with labels not in the "
                      f"codebook ({codes}).")
    if result.empty_label_cells:
        console.print(empty_labels_note(result))


def empty_labels_note(result: importer.ImportResult) -> str:
    """What became of rows with an empty label cell, said in the import summary."""
    n = result.empty_label_cells
    if result.empty_labels == "none":
        return f"{n:,} rows had an empty label cell: imported as gold 'no label applies'."
    return (f"{n:,} rows had an empty label cell: imported without gold labels (left out "
            "of training and evaluation). If an empty cell means 'no label applies', "
            "import again with --empty-labels none.")


def info(study: StudyOption = Path(".")) -> None:
    """Show the study's codebook and how many documents carry each gold label."""
    st = study_at(study)
    console.print(label_table(st))


def demo(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Folder for the demo study (default: a new temporary folder)."),
    ] = None,
    import_only: Annotated[
        bool, typer.Option(help="Stop after the import (no model work).")
    ] = False,
    epochs: Annotated[int | None, typer.Option(
        help="Training epochs of the fine-tuning step (default 3).")
    ] = None,
    flourishing: Annotated[Path | None, typer.Option(
        help="Replay the paper's human-flourishing study instead, from this folder: "
             "flourishing/ of github.com/siacus/rethinking-scale (CSV files plain or "
             "gzipped).")] = None,
    base: Annotated[str, typer.Option(
        help="Base model fine-tuned by --flourishing (a name, hub id or folder).")
    ] = "embedded",
) -> None:
    """Run the whole workflow on 1,000 shipped CAP-coded bill titles with the embedded model.

    Import, annotate a handful with two prompts (agreement table), fine-tune the embedded
    model, evaluate it against TF-IDF + SVM and zero-shot, classify: a few minutes on 2 cores.

    With --flourishing DATA: import the paper's 10,000 tweets, its 26,635 GPT-4 / LLaMA-2
    proposals and the coders' accept/reject decisions, show the acceptance rates, fine-tune
    on the verified (graded) labels, and evaluate the model next to TF-IDF and the paper's
    own fine-tuned LLaMA and zero-shot GPT-4 predictions on the same held-out verified
    tweets, in one report.html (about 13 minutes on 2 cores).

    Examples: replicoder demo ./demo-study;
    replicoder demo ./replay --flourishing ./rethinking-scale/flourishing
    """
    from replicoder.cli import demo as demo_mod

    if flourishing is not None:
        demo_mod.run_flourishing(flourishing, directory, console, epochs=epochs or 3, base=base)
        return
    demo_mod.run(directory, console, import_only=import_only, epochs=epochs or demo_mod.EPOCHS)
