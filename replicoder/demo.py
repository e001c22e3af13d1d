"""The demo: the whole workflow on shipped sample data and the embedded model."""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from rich.console import Console

from replicoder import importer
from replicoder import study as study_mod

SAMPLE = "cap_bills_sample.csv"


def sample_path() -> Path:
    """The shipped sample: 1,000 CAP-coded US bill titles (see replicoder/data/README.md)."""
    return Path(str(resources.files("replicoder.data").joinpath(SAMPLE)))


def create(directory: Path | None = None) -> study_mod.Study:
    """A new CAP study holding the sample with its gold labels."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="replicoder-demo-"))
    study = study_mod.init(directory, "cap")
    importer.import_file(study, sample_path(), text="text", id="id", labels="major_topic",
                         meta=["congress", "chamber"])
    return study


def run(directory: Path | None = None, console: Console | None = None) -> study_mod.Study:
    """Create the demo study and print what it holds."""
    from replicoder.cli.study import label_table

    console = console or Console()
    study = create(directory)
    console.print(f"Demo study in [bold]{study.root}[/]: imported {SAMPLE}.")
    console.print(label_table(study))
    return study
