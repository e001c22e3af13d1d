"""End to end on a tiny study: review sample -> reviewer decisions -> estimate (CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from estimate_study import make, review
from typer.testing import CliRunner

from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.estimate.corpus import estimate


def test_sample_review_estimate(tmp_path: Path) -> None:
    st, coded, truth = make(tmp_path)
    review(st, ["b0003"], truth)  # verified before the sample: counts with its human label
    runner = CliRunner()
    res = runner.invoke(app, ["review", "sample", "60", "--seed", "4", "--from", str(coded),
                              "--strata", "year", "--coders", "anna", "--study", str(st.root)])
    assert res.exit_code == 0, res.output
    assert "Drew 60 of 240 documents (stratified random sample, seed 4)" in res.output
    with st.store() as store:
        sample = store.sample(store.sample_ids()[-1])
        assert sample is not None and len(sample.docs) == 60
        assert set(store.queue("anna")) == set(sample.docs)
    assert sample.design["strata"]["2019"] == {"population": 80, "sample": 20,
                                               "inclusion_probability": 0.25}
    with pytest.raises(ReplicoderError, match="60 of the 60 documents of sample .* are not"):
        estimate(st, coded)
    review(st, sorted(sample.docs), truth)

    res = runner.invoke(app, ["estimate", "--predictions", str(coded), "--by", "year",
                              "--study", str(st.root), "--out", str(tmp_path / "est")])
    assert res.exit_code == 0, res.output
    assert "never occur among the 60 verified documents: defence (Defence)" in res.output
    table = pd.read_csv(tmp_path / "est" / "shares.csv", dtype={"year": str})
    assert len(table) == 3 * 4 * 3
    assert set(table["method"]) == {"ppi", "classify-and-count", "sample-only"}
    assert (tmp_path / "est" / "shares.png").stat().st_size > 10_000
    manifest = json.loads((tmp_path / "est" / "manifest.json").read_text())
    assert manifest["sample_design"]["seed"] == 4 and manifest["verified_documents"] == 60
    assert manifest["known_before_sample"] == 1 and manifest["by"] == ["year"]
    assert pd.read_parquet(tmp_path / "est" / "shares.parquet").shape == table.shape

    overall = estimate(st, coded, out_dir=tmp_path / "all", figure=False).table
    true_share = pd.Series(truth).value_counts(normalize=True)
    ppi = overall[overall.method == "ppi"].set_index("label")
    naive = overall[overall.method == "classify-and-count"].set_index("label")
    for code in ("econ", "health", "env"):
        assert ppi.loc[code, "low"] <= true_share[code] <= ppi.loc[code, "high"]
    assert not naive.loc["health", "low"] <= true_share["health"] <= naive.loc["health", "high"]
    shuffled = tmp_path / "shuffled.csv"
    pd.read_parquet(coded).sample(frac=1.0, random_state=3).to_csv(shuffled, index=False)
    again = estimate(st, shuffled, out_dir=tmp_path / "again", figure=False).table
    pd.testing.assert_frame_equal(overall, again)


def test_bad_inputs_get_clear_messages(tmp_path: Path) -> None:
    st, coded, truth = make(tmp_path)
    review(st, ["b0001", "b0002", "b0003"], truth)  # verified, but not a random sample
    with pytest.raises(ReplicoderError, match="no random validation sample"):
        estimate(st, coded)
    assert len(estimate(st, coded, methods=["classify-and-count"], figure=False).table) == 4
    from replicoder.review.sample import draw_sample

    drawn = draw_sample(st, 40, 1, source=coded, coders=["anna"])
    review(st, drawn.doc_ids, truth)
    other = tmp_path / "other.parquet"
    pd.read_parquet(coded).iloc[:200].to_parquet(other, index=False)
    with pytest.raises(ReplicoderError, match="another population"):
        estimate(st, other)
    with pytest.raises(ReplicoderError, match="source=rare: 0 verified of 1 documents"):
        estimate(st, coded, by=["source"])
    with pytest.raises(ReplicoderError, match="no column 'party'.*--meta party"):
        estimate(st, coded, by=["party"])
    scored = estimate(st, coded, use="scores", figure=False).table
    ppi = scored[scored.method == "ppi"]
    assert (ppi["low"] <= ppi["estimate"]).all() and (ppi["estimate"] <= ppi["high"]).all()
    raw = pd.read_parquet(coded).assign(score_econ=3.5)
    raw.to_parquet(tmp_path / "raw.parquet", index=False)
    with pytest.raises(ReplicoderError, match="probabilities between 0 and 1.*--use labels"):
        estimate(st, tmp_path / "raw.parquet", use="scores")
    with pytest.raises(ReplicoderError, match="--method magic"):
        estimate(st, coded, methods=["magic"])
    proc = subprocess.run([sys.executable, "-m", "replicoder.cli", "review", "sample", "500",
                           "--seed", "1", "--study", str(st.root)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "cannot draw 500 documents from a population of 240" \
        in proc.stderr
