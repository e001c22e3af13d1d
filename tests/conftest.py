"""Shared fixtures: real study folders with real SQLite databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicoder import study as study_mod

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BILLS = SHARED / "data" / "us_congress_bills.csv.gz"


@pytest.fixture
def cap_study(tmp_path: Path) -> study_mod.Study:
    """An empty study with the built-in CAP codebook."""
    return study_mod.init(tmp_path / "study", "cap")


@pytest.fixture
def bills() -> Path:
    if not BILLS.is_file():
        pytest.skip(f"{BILLS} is not there")
    return BILLS
