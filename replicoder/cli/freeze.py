"""Command: freeze, a study packed into one archive another person can re-run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from replicoder.cli.common import StudyOption, console, study_at


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("freeze")(freeze)


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
