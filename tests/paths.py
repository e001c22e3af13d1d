"""Where the tests' data lives: all of it inside the repository (tests/data/README.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
BILLS = DATA / "us_congress_bills_slice.csv.gz"  # 1,500 CAP-coded bill titles, 30 coded 99
SAMPLE = Path(str(resources.files("replicoder.data").joinpath("cap_bills_sample.csv")))
ARTIFACTS = TESTS.parent / "test-artifacts"  # screenshots and such, git-ignored
FLOURISHING = DATA / "flourishing"  # 300 tweets of the paper's flourishing study, CC BY 4.0
