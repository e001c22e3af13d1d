"""Command: estimate plan (issue 30): how many documents to verify for a PPI interval of a
given width, registered into the `estimate` group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from replicoder.cli.common import StudyOption, console, err_console, study_at


def register(group: typer.Typer) -> None:
    """Add `plan` to the `estimate` group."""
    group.command("plan")(plan)


def plan(
    width: Annotated[float, typer.Option(
        help="Full width (high - low) wanted for each label's interval, as a share: 0.05 "
        "means +/- 2.5 points.")],
    predictions: Annotated[Path | None, typer.Option(
        help="Classified output of `replicoder classify` (its labels and score_<code> "
        "columns).")] = None,
    by: Annotated[list[str] | None, typer.Option(
        help="Plan per value of this column (of the predictions, else the documents' "
        "metadata): the sample to stratify by it. Repeatable.")] = None,
    level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    sample: Annotated[str | None, typer.Option(
        help="Pilot sample id (default: the latest `review sample`, if any).")] = None,
    id_column: Annotated[str, typer.Option("--id", help="Id column of the predictions.")
                         ] = "id",
    study: StudyOption = Path("."),
) -> None:
    """How many documents to sample and verify so that each label's PPI interval (and
    each group's, with --by) is at most --width wide, next to the number the sample alone
    would need.

    The model's precision and false omission rate per label come from a reviewed pilot
    sample (`replicoder review sample`) when there is one, else from its scores (right
    when they are calibrated). The interval is `replicoder estimate`'s (stratified PPI,
    Wilson per stratum, MOVER), evaluated at the counts expected from a random sample of
    n. Writes plan.csv to runs/<id>/. Draw the sample with `replicoder review sample N`
    (with --strata COLUMN for --by); a steered review order (`review assign --order`)
    never counts as such a sample.

    Example: replicoder estimate plan --width 0.05 --predictions coded.parquet --by year
    """
    from replicoder.estimate.sample_size import plan as run

    result = run(study_at(study), width, predictions=predictions, by=by or [], level=level,
                 sample_id=sample, id_column=id_column)
    frame = result.table
    table = Table(*(by or []), "label", "share", "precision", "omission", "n (PPI)",
                  "n (sample only)", title=f"documents to verify for {level:.0%} intervals "
                  f"of width {width:g} (from {result.source})")
    for _, row in frame.iterrows():
        table.add_row(*(str(row[c]) for c in by or []), f"{row['label']} "
                      f"{row['label_name']}"[:36], f"{row['predicted_share']:.3f}",
                      f"{row['ppv']:.2f}", f"{row['false_omission']:.3f}",
                      f"{row['n_ppi']:,}", f"{row['n_sample_only']:,}")
    console.print(table)
    for warning in result.warnings:
        err_console.print(f"[bold yellow]warning:[/] {warning}")
    console.print(f"Every label within {width:g}: sample {result.totals['n_ppi']:,} documents "
                  f"with PPI ({result.totals['n_sample_only']:,} with the sample alone); "
                  f"pilot documents used: {result.pilot:,}; run {result.run_id}.")
