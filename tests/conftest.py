"""Shared fixtures: real study folders with real SQLite databases."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from paths import BILLS

from replicoder import study as study_mod


def pytest_configure(config: pytest.Config) -> None:
    """Let Ctrl-C reach the commands the tests start, as it does from a terminal.

    A shell without job control starts a background job (``bash scripts/test.sh &``) with
    SIGINT ignored, and an ignored signal stays ignored in every child: the Ctrl-C tests'
    CLI would never see their SIGINT and run to the end. A handled signal is reset to its
    default in a child, so Python's own handler here gives the children the default."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def cap_study(tmp_path: Path) -> study_mod.Study:
    """An empty study with the built-in CAP codebook."""
    return study_mod.init(tmp_path / "study", "cap")


@pytest.fixture
def bills() -> Path:
    """1,500 real CAP-coded bill titles, 30 of them coded 99 (tests/data/README.md)."""
    return BILLS
