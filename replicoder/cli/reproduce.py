"""Command: reproduce, a frozen study re-run and compared, never running its code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from replicoder.cli.common import console, err_console


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("reproduce")(reproduce)


def reproduce(
    archive: Annotated[Path, typer.Argument(help="Archive made by `replicoder freeze`.")],
    workdir: Annotated[Path | None, typer.Option(
        help="New or empty folder to unpack into (default: a new temporary folder).",
        show_default=False)] = None,
    steps: Annotated[str, typer.Option(
        help="Runs to re-run, comma separated: evaluate, classify, estimate (topic "
             "shares), regress (estimate regress).")] = "evaluate,classify,estimate,regress",
    sample: Annotated[int | None, typer.Option(
        help="Classify only N of the study's documents (seeded) per classify run.",
        show_default=False)] = None,
    checkpoint_every: Annotated[int | None, typer.Option(
        help="Classify in blocks of N documents instead of the recorded size (scores must "
             "not depend on it).", show_default=False)] = None,
    max_members: Annotated[int, typer.Option(
        min=1, help="Refuse an archive with more members than this (raise it only for an "
                    "archive you trust).")] = 10_000,
    max_gb: Annotated[float, typer.Option(
        min=0.001, help="Refuse an archive that unpacks to more than this many GB (10^9 "
                        "bytes).")] = 50.0,
) -> None:
    """Re-run a frozen study and check that it gives the same answers.

    Unpacks the archive safely: lock.json is read first and every member must be listed
    in it and be no larger than listed; absolute paths, '..', links, devices, pickles and
    code in model folders (.py files, 'auto_map' in a config) are refused before anything
    is loaded, and a refused archive is removed again. Then it warns about
    each difference between this environment and the recorded one, checks every hash
    (adapters, codebook, files), re-runs each evaluate and classify run with its recorded
    settings and precision, and compares: metrics equal to 3 decimals, labels identical,
    scores within 1e-4 (fp32) or 2e-2 (bf16). Each estimate and estimate regress run is
    re-run from the frozen predictions file, sample and verified labels: the same rows,
    numbers within 1e-9 relative (they are deterministic). Prints a pass/fail table, writes
    diffs/RUN.csv for documents (or table rows) whose answer changed, exits 1 on a
    difference.

    Example: replicoder reproduce study-20250101.tar.gz --workdir rerun
    """
    from replicoder.replicate.rerun import reproduce as run
    from replicoder.replicate.unpack import Limits

    result = run(archive, workdir, steps=tuple(s.strip() for s in steps.split(",") if s.strip()),
                 sample=sample, checkpoint_every=checkpoint_every,
                 limits=Limits(max_members=max_members, max_bytes=int(max_gb * 1e9)))
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    table = Table(title=f"Reproduced in {result.workdir}")
    for col in ("step", "run", "check", "result", "detail"):
        table.add_column(col)
    for c in result.checks:
        table.add_row(c.step, c.run_id, c.what, "[green]pass[/]" if c.passed else
                      "[bold red]FAIL[/]", c.detail)
    console.print(table)
    for path in result.diffs:
        console.print(f"Changed answers: [bold]{path}[/]", soft_wrap=True)
    if not result.passed:
        raise typer.Exit(1)
