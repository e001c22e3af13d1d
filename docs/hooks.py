"""MkDocs hooks: the CLI reference from the Typer app, and bench/README.md as a page.

Both are generated at build time from the code and the benchmark index, so the site cannot
drift from them. `docs/reference/cli.md` holds the marker `<!-- cli-reference -->`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- cli-reference -->"
TOP = "<!-- top-level-api -->"


def _cli_markdown() -> str:
    from replicoder.cli.reference import markdown

    return markdown()


def on_files(files: Any, config: Any) -> Any:
    """Add bench/README.md as `benchmarks.md`, its links to results files made plain text."""
    from mkdocs.structure.files import File

    text = (ROOT / "bench" / "README.md").read_text("utf-8")
    text = re.sub(r"\[([^\]]+)\]\((?:bench/)?results/[^)]+\)", r"`\1`", text)
    files.append(File.generated(config, "benchmarks.md", content=text))
    return files


def _top_level() -> str:
    """A mkdocstrings block for each of `replicoder.__all__`, at the module that defines it."""
    import replicoder

    blocks = ["::: replicoder.errors.ReplicoderError"]
    for name in sorted(replicoder._LAZY, key=str.lower):
        blocks.append(f"::: {replicoder._LAZY[name]}.{name}")
    return "\n\n".join(blocks) + "\n\n`__version__`: the package version, e.g. `" + \
        replicoder.__version__ + "`.\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, _cli_markdown())
    if TOP in markdown:
        markdown = markdown.replace(TOP, _top_level())
    return markdown
