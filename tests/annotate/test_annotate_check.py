"""annotate check: codebook tests of an annotator, a pass/fail table and a manifest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_annotate_support import bills_study
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.annotate.check import _renamed, check, label_text
from replicoder.annotate.config import AnnotatorConfig, add_annotator
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import load
from replicoder.models.tiny import build_tiny


def test_renamed_codes_map_back() -> None:
    book = load("cap")
    renamed, back = _renamed(book, 0)
    assert sorted(back.values()) == sorted(book.codes)
    assert [back[c] for c in renamed.codes] == book.codes
    assert renamed.codes != book.codes and [lab.name for lab in renamed.labels] == [
        lab.name for lab in book.labels]
    assert label_text(book, "3").startswith("Health care reform")


def test_check_on_a_tiny_model_writes_its_table_and_manifest(tmp_path: Path) -> None:
    st = bills_study(tmp_path, 6)
    tiny = build_tiny(tmp_path / "tiny")  # plumbing: scoring, so every answer is a label
    add_annotator(st, AnnotatorConfig(name="tiny", model=str(tiny), template="short"))
    st = study_mod.open_study(st.root)
    result = check(st, "tiny", documents=3)
    valid, recovery, order, names = result.rows
    assert (valid.passed, valid.total, valid.ok) == (3 * 24, 3 * 24, True)
    assert recovery.total == 21 and order.total == names.total == 24
    manifest = json.loads(result.manifest_path.read_text("utf-8"))
    assert manifest["kind"] == "annotate-check" or "checks" in manifest
    assert [c["test"] for c in manifest["checks"]][0] == "valid labels only"
    with st.store() as store:
        assert store.proposals() == []  # answers cached, no proposals stored
    out = CliRunner().invoke(app, ["annotate", "check", "-a", "tiny", "--documents", "3",
                                   "--min-share", "0", "--study", str(st.root)],
                             env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "valid labels only" in out.output and "pass" in out.output
    with pytest.raises(ReplicoderError, match="unknown annotator 'nope'"):
        check(st, "nope")
    with pytest.raises(ReplicoderError, match="--min-share must be between 0 and 1"):
        check(st, "tiny", min_share=2)


def test_check_on_the_embedded_model_runs_in_a_minute(tmp_path: Path) -> None:
    st = bills_study(tmp_path, 5)
    add_annotator(st, AnnotatorConfig(name="smol", template="short", threads=1))
    st = study_mod.open_study(st.root)
    began = time.monotonic()
    result = check(st, "smol", documents=5)
    seconds = time.monotonic() - began
    print(f"annotate check on the embedded model: {seconds:.0f} s",
          [(r.test, r.passed, r.total) for r in result.rows])
    assert result.rows[0].ok  # only valid labels
    # measured 62-89 s (57 s of CPU) at load 7-9, 158 s at load 9 before scoring shared
    # its passes better, 380 s at load 20+ (shared machine): the bound is for the worst
    assert seconds < 900
