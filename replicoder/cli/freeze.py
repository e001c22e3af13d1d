"""Commands: freeze, reproduce (issue 14)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from replicoder.cli.common import StudyOption, console, err_console, study_at


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("freeze")(freeze)
    app.command("reproduce")(reproduce)


def freeze(
    out: Annotated[Path | None, typer.Option(
        help="Archive to write (.tar.gz); default study-YYYYMMDD.tar.gz here.",
        show_default=False)] = None,
    include_base_weights: Annotated[bool, typer.Option(
        "--include-base-weights", help="Put the base model's weights in the archive too "
                                       "(the embedded model adds about 90 MB); without it "
                                       "the archive names them: package, version, hash.")
    ] = False,
    texts: Annotated[bool, typer.Option(
        "--include-texts/--no-texts", help="--no-texts: for data that may not be shared, "
                                           "study.db keeps only each text's sha256, LLM "
                                           "answers only theirs, and classify input files "
                                           "are left out (their sha256 is listed); the "
                                           "archive then cannot be re-run as is.")] = True,
    study: StudyOption = Path("."),
) -> None:
    """Pack the study into one archive that another person can re-run.

    The archive holds the codebook, settings, study.db, models/ (adapters, heads, label
    maps, manifests), each base model's reference (or weights), the prompt templates,
    every run's manifest, metrics and classify output, a lock of the environment
    (packages, torch build, device and precision of each run) with the sha256 of every
    file, and a README.md naming the command behind each number.

    Example: replicoder freeze --out study-20250101.tar.gz
    """
    from replicoder.replicate.archive import freeze as run

    target = out or Path(f"study-{dt.datetime.now(dt.UTC):%Y%m%d}.tar.gz")
    result = run(study_at(study), target, include_texts=texts,
                 include_base_weights=include_base_weights)
    console.print(f"Froze {result.members} files into [bold]{result.path}[/] "
                  f"({result.bytes / 1e6:.1f} MB); "
                  f"{len(result.lock['reproducible'])} runs can be re-run with "
                  f"`replicoder reproduce {result.path}`", soft_wrap=True)


def reproduce(
    archive: Annotated[Path, typer.Argument(help="Archive made by `replicoder freeze`.")],
    workdir: Annotated[Path | None, typer.Option(
        help="New or empty folder to unpack into (default: a new temporary folder).",
        show_default=False)] = None,
    steps: Annotated[str, typer.Option(
        help="Runs to re-run, comma separated: evaluate, classify.")] = "evaluate,classify",
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
    scores within 1e-4 (fp32) or 2e-2 (bf16). Prints a pass/fail table, writes
    diffs/RUN.csv for documents whose answer changed, exits 1 on a difference.

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
