"""Shared fixtures: real study folders with real SQLite databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import BILLS

from replicoder import study as study_mod


@pytest.fixture
def cap_study(tmp_path: Path) -> study_mod.Study:
    """An empty study with the built-in CAP codebook."""
    return study_mod.init(tmp_path / "study", "cap")


@pytest.fixture
def bills() -> Path:
    """1,500 real CAP-coded bill titles, 30 of them coded 99 (tests/data/README.md)."""
    return BILLS
