"""Options and output helpers shared by the command modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from replicoder.study import Study, open_study

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

StudyOption = Annotated[
    Path,
    typer.Option(
        "--study", "-s", help="Study folder (made by `replicoder init`).", show_default="."
    ),
]


def study_at(path: Path) -> Study:
    return open_study(path)
