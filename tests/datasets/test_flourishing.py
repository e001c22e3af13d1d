"""The flourishing replay (`replicoder demo --flourishing`) on the 300-tweet slice, with the
tiny model: every step runs, the rates come from the decisions, every paper model is scored
on the same held-out verified tweets, and one report holds it all."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from paths import FLOURISHING
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.cli import app
from replicoder.datasets.flourishing import MODEL, paper_figures, predictions_files, source
from replicoder.errors import ReplicoderError
from replicoder.models.tiny import build_tiny


def test_replay_runs_end_to_end(tmp_path: Path) -> None:
    tiny = build_tiny(tmp_path / "tiny")
    root = tmp_path / "replay"
    result = CliRunner().invoke(app, [
        "demo", str(root), "--flourishing", str(FLOURISHING), "--base", str(tiny),
        "--epochs", "1"])
    assert result.exit_code == 0, result.output
    codings = pd.read_csv(FLOURISHING / "all-llms-codings.csv.gz", dtype=str)
    for llm, rows in codings.groupby("llm"):
        rate = (rows.accepted == "Y").mean()
        assert f"{llm}: {rate:.1%} of {len(rows):,} proposals accepted" in result.output

    st = study_mod.open_study(root)
    run_dir = sorted(st.runs_dir.glob("*-evaluate-*"))[-1]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    names = {MODEL, "tfidf", *predictions_files(FLOURISHING)}
    assert set(metrics["models"]) == names
    sizes = {m["parts"]["test"]["n_documents"] for m in metrics["models"].values()}
    assert sizes == {metrics["documents"]["test"]["n"]}
    assert metrics["intensities"] == ["low", "medium", "high"]
    report = (run_dir / "report.html").read_text()
    assert "how often coders accepted" in report
    assert all(name in report for name in names)
    with st.store() as store:
        verified = store.verified_labels()
    test_ids = pd.read_parquet(run_dir / "predictions.parquet").doc_id.unique()
    assert set(test_ids) <= set(verified)  # scored against the replayed, verified labels


def test_paper_figures_and_missing_files(tmp_path: Path) -> None:
    figures = paper_figures(FLOURISHING)
    assert figures["L2-13B-FT"]["label_accuracy"] == pytest.approx(0.961721, abs=1e-6)
    assert figures["chatgpt4"]["n"] == 105248
    assert paper_figures(tmp_path) == {}
    with pytest.raises(ReplicoderError, match="no sample.csv or sample.csv.gz.*rethinking"):
        source(tmp_path, "sample")
