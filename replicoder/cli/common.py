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

HostOption = Annotated[str, typer.Option(
    help="Address to listen on. The default is loopback only; any other address exposes the "
    "server to the network (the review app then requires the token it prints; for serve, "
    "set --api-key-env).")]
PortOption = Annotated[int, typer.Option(help="TCP port to listen on.")]


def study_at(path: Path) -> Study:
    return open_study(path)
