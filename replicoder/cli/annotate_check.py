"""Command: annotate check (codebook tests of an annotator, issue 28)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from replicoder.cli.common import StudyOption, console, study_at


def check(
    annotator: Annotated[str, typer.Option(
        "--annotator", "-a", help="The annotator to test (a name in replicoder.toml).")],
    documents: Annotated[int, typer.Option(
        help="Study documents drawn at random (with --seed) besides one made of each "
        "label's description.")] = 5,
    min_share: Annotated[float, typer.Option(
        help="Share of cases a test must pass (valid labels: always all).")] = 0.9,
    seed: Annotated[int, typer.Option(help="Seed of the drawn documents and renamed codes.")
    ] = 0,
    study: StudyOption = Path("."),
) -> None:
    """Test an annotator against the codebook before it codes: only valid labels; each
    label recovered from its own description and examples; the same answers with the
    labels listed in reverse order; the same mapping with the codes renamed.

    Prints a pass/fail table; the results go into the run's manifest. Answers are cached,
    so a rerun is instant. Exit status 1 when a test fails.

    Example: replicoder annotate check -a smol --study my-study
    """
    from replicoder.annotate.check import check as run

    result = run(study_at(study), annotator, documents=documents, min_share=min_share,
                 seed=seed)
    table = Table(title=f"codebook tests of annotator {annotator!r} ({result.seconds:.0f} s)")
    for col in ("test", "passed", "share", "needed", "result", "detail"):
        table.add_column(col, justify="left" if col in ("test", "detail") else "right")
    for r in result.rows:
        table.add_row(r.test, f"{r.passed}/{r.total}", f"{r.share:.2f}", f"{r.needed:.2f}",
                      "[green]pass[/]" if r.ok else "[red]fail[/]", r.detail)
    console.print(table)
    console.print(f"Manifest: {result.manifest_path}")
    if not result.ok:
        raise typer.Exit(1)
