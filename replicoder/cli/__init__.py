"""The `replicoder` command: a thin Typer layer over the library.

Each module registers its commands; errors a user can fix print without a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.text import Text

from replicoder.cli import (
    agreement,
    annotate,
    classify,
    estimate,
    evaluate,
    freeze,
    proposals,
    reproduce,
    review,
    serve,
    study,
    train,
)
from replicoder.cli.common import err_console
from replicoder.errors import ReplicoderError

__all__ = ["app", "main"]

app = typer.Typer(
    name="replicoder",
    help="Code text corpora reproducibly: import, annotate with LLMs, review, fine-tune a "
    "small open LLM, evaluate and classify.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

for module in (study, proposals, annotate, agreement, serve, review, train, classify, evaluate,
               estimate, freeze, reproduce):
    module.register(app)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except ReplicoderError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted: finished work is saved; run the command again to go on")
        sys.exit(130)


if __name__ == "__main__":
    main()
