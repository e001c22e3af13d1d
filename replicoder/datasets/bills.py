"""The sample shipped with the package: 1,000 CAP-coded US bill titles (see
replicoder/data/README.md for the source and attribution), and a study holding it."""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path

from replicoder import importer
from replicoder import study as study_mod

__all__ = ["SAMPLE", "sample_path", "sample_study"]

SAMPLE = "cap_bills_sample.csv"


def sample_path() -> Path:
    """Path of the shipped sample CSV (columns id, congress, chamber, major_topic, text)."""
    return Path(str(resources.files("replicoder.data").joinpath(SAMPLE)))


def sample_study(directory: Path | None = None) -> study_mod.Study:
    """A new CAP study (in ``directory`` or a new temporary folder) holding the sample with
    its gold labels and the congress and chamber of each bill."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="replicoder-demo-"))
    study = study_mod.init(directory, "cap")
    importer.import_file(study, sample_path(), text="text", id="id", labels="major_topic",
                         meta=["congress", "chamber"])
    return study
