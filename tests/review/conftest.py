"""Review tests. pytest puts this folder on sys.path (a conftest.py without __init__.py), so
e2e/ can import test_review_store's helpers even when run alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_review_store import make_study, propose

from replicoder import study as study_mod


@pytest.fixture
def study(tmp_path: Path) -> study_mod.Study:
    """A study with one document, d1, that two LLMs proposed labels for."""
    st = make_study(tmp_path)
    with st.store() as store:
        propose(store, "d1", llm_a=["3"], llm_b=["3", "7"])
    return st
