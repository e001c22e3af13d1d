"""Command group: estimate (issue 15): label shares with valid intervals; its subcommands
(`estimate regress`) are registered here too."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from replicoder.cli import regress
from replicoder.cli.common import StudyOption, console, err_console, study_at


def register(app: typer.Typer) -> None:
    """Add `estimate` (shares when called with --predictions) and its subcommands
    (`regress`, `plan`)."""
    from replicoder.cli import plan

    group = typer.Typer(invoke_without_command=True, rich_markup_mode="rich")
    group.callback()(estimate)
    group.command("regress")(regress.regress)
    plan.register(group)
    app.add_typer(group, name="estimate")


def estimate(
    ctx: typer.Context,
    predictions: Annotated[Path | None, typer.Option(
        help="Classified output of `replicoder classify` (.parquet, .csv, .jsonl, .dta).")
    ] = None,
    by: Annotated[list[str] | None, typer.Option(
        help="Estimate shares within each value of this column (of the predictions file, "
        "else the documents' metadata), e.g. year or chamber. Repeatable.")] = None,
    level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    method: Annotated[list[str] | None, typer.Option(
        help="ppi, classify-and-count or sample-only (repeatable; default all three).")
    ] = None,
    sample: Annotated[str | None, typer.Option(
        help="Id of the validation sample (default: the latest `review sample`).")] = None,
    id_column: Annotated[str, typer.Option("--id", help="Id column of the predictions.")
                         ] = "id",
    use: Annotated[str, typer.Option(
        help="What PPI stratifies on: 'labels' (the model's final answers) or 'scores' (a "
        "score_<code> probability of at least 0.5 counts as predicted).")] = "labels",
    allow_incomplete: Annotated[bool, typer.Option(
        "--allow-incomplete", help="Use the verified part of a sample whose review is not "
        "finished (valid only if the rest is missing at random).")] = False,
    intensities: Annotated[bool, typer.Option(
        "--intensities", help="Graded codebooks: also estimate the share of each label x "
        "intensity (e.g. joy:high), besides each label's presence; needs predictions with "
        "intensities, as classify writes them.")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Output folder (default: runs/<run id>/ of the study).")] = None,
    study: StudyOption = Path("."),
) -> None:
    """Share of each label in a classified corpus, with valid intervals.

    Three estimates per label (and per group of --by):

    - ppi: prediction-powered inference (Angelopoulos et al., Science 2023), stratified on
    the predicted label (Fisch et al. 2024): the share of documents the model gave the
    label, times the verified share right among those in the random sample of `replicoder
    review sample`, plus the share it missed among the others. Wilson intervals per
    stratum, combined by MOVER, so rare labels keep their coverage. Nearly unbiased,
    narrower than the sample alone.

    - classify-and-count: the share of documents the model gave the label, with the
    interval one would get if its answers were true. Biased by the model's errors; its
    interval is too narrow.

    - sample-only: the share among the verified sample alone (Wilson interval). Unbiased
    but wide.

    Writes shares.csv, shares.parquet, shares.png (shares with intervals, per --by group)
    and manifest.json.

    Example: replicoder estimate --predictions coded.parquet --by year --level 0.95

    Subcommand: `replicoder estimate regress` (regressions on predicted labels).
    """
    if ctx.invoked_subcommand is not None:
        return
    if predictions is None:
        err_console.print(f"{ctx.get_usage()}\nTry '{ctx.command_path} --help' for help.\n\n"
                          "error: Missing option '--predictions' (or a subcommand: regress, "
                          "plan).")
        raise typer.Exit(2)
    from replicoder.estimate.corpus import estimate as run
    from replicoder.estimate.shares import METHODS

    result = run(study_at(study), predictions, by=by or [], level=level,
                 methods=method or list(METHODS), sample_id=sample, id_column=id_column,
                 use=use, allow_incomplete=allow_incomplete, out_dir=out,
                 intensities=intensities)
    for warning in result.warnings:
        err_console.print(f"[bold yellow]warning:[/] {warning}")
    frame = result.table
    if not by:
        wide = frame.pivot(index=["label", "label_name"], columns="method",
                           values=["estimate", "low", "high"])
        table = Table("label", *(m for m in frame["method"].unique()),
                      title=f"shares with {level:.0%} intervals")
        for (code, name), row in wide.iterrows():
            cells = [f"{row[('estimate', m)]:.3f} [{row[('low', m)]:.3f}, "
                     f"{row[('high', m)]:.3f}]" for m in frame["method"].unique()]
            table.add_row(f"{code} {name}"[:40], *cells)
        console.print(table)
    console.print(f"Wrote {len(frame):,} rows to {result.out_dir} (shares.csv, "
                  f"shares.parquet, shares.png, manifest.json); run {result.run_id}.")
