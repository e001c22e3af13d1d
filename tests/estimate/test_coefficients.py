"""End to end on a tiny study: review sample -> verified labels -> estimate regress (CLI)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from estimate_study import THREE_TOPICS as CODEBOOK
from estimate_study import review
from typer.testing import CliRunner

from replicoder import importer, splits
from replicoder import study as study_mod
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.estimate.coefficients import regress
from replicoder.review.sample import draw_sample
from replicoder.run import Run

CODES = ["econ", "health", "env"]


def make(tmp_path: Path, n: int = 400) -> tuple[study_mod.Study, Path, dict[str, str]]:
    """A study whose Senate bills are more often about health; the model calls a third of
    the health bills economy, more so in the Senate (so the naive chamber slope is off)."""
    rng = np.random.default_rng(3)
    (tmp_path / "codebook.yaml").write_text(CODEBOOK)
    st = study_mod.init(tmp_path / "study", tmp_path / "codebook.yaml")
    ids = [f"b{i:04d}" for i in range(n)]
    chamber = np.where(np.arange(n) % 3 == 0, "S", "HR")
    p_health = np.where(chamber == "S", 0.6, 0.3)
    truth = np.where(rng.random(n) < p_health, "health",
                     rng.choice(["econ", "env"], size=n)).astype(object)
    miss = np.where(chamber == "S", 0.45, 0.15)
    pred = np.where((truth == "health") & (rng.random(n) < miss), "econ", truth)
    pd.DataFrame({"id": ids, "text": [f"bill number {i}" for i in range(n)],
                  "chamber": chamber, "sponsor": [f"m{i % 40}" for i in range(n)]}
                 ).to_csv(tmp_path / "docs.csv", index=False)
    importer.import_file(st, tmp_path / "docs.csv", text="text", id="id",
                         meta=["chamber", "sponsor"])
    out = pd.DataFrame({"id": ids, "labels": pred, "model": "m",
                        "length": rng.normal(10, 2, n).round(2)})
    for c in CODES:
        out[f"score_{c}"] = np.where(pred == c, 0.8, 0.1)
    path = tmp_path / "coded.parquet"
    out.to_parquet(path, index=False)
    return st, path, dict(zip(ids, truth, strict=True))


def test_regress_end_to_end(tmp_path: Path) -> None:
    st, coded, truth = make(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["review", "sample", "160", "--seed", "2", "--from", str(coded),
                              "--strata", "chamber", "--coders", "anna",
                              "--study", str(st.root)])
    assert res.exit_code == 0, res.output
    with st.store() as store:
        sample = store.sample(store.sample_ids()[-1])
    assert sample is not None
    with pytest.raises(ReplicoderError, match="160 of the 160 documents of sample .* are not "
                                              "verified"):
        regress(st, coded, outcome="health", covariates=["chamber"])
    review(st, sorted(sample.docs), truth)
    res = runner.invoke(app, ["estimate", "regress", "--predictions", str(coded),
                              "--outcome", "Health", "--covariates", "chamber",
                              "--covariates", "length", "--cluster", "sponsor",
                              "--power", "0.05", "--study", str(st.root),
                              "--out", str(tmp_path / "reg")])
    assert res.exit_code == 0, res.output
    assert "verified documents for a standard error of 0.05" in res.output
    assert "model 'm' has no training run in this study" in res.output
    table = pd.read_csv(tmp_path / "reg" / "coefficients.csv")
    assert set(table["method"]) == {"dsl", "ppi", "naive", "sample-only"}
    assert list(dict.fromkeys(table["term"])) == ["(intercept)", "chamber=S", "length"]
    assert pd.read_parquet(tmp_path / "reg" / "coefficients.parquet").shape == table.shape
    assert (tmp_path / "reg" / "coefficients.png").stat().st_size > 10_000
    plan = pd.read_csv(tmp_path / "reg" / "power.csv")
    assert set(plan["method"]) == {"dsl", "ppi"} and (plan["verified_now"] == 160).all()
    manifest = json.loads((tmp_path / "reg" / "manifest.json").read_text())
    assert manifest["kind"] == "regress" and manifest["outcome"] == "health"
    assert manifest["reference_levels"] == {"chamber": "HR"} and manifest["clusters"] == 40
    assert manifest["sample_design"]["method"] == "stratified"
    assert manifest["verified_documents"] == 160
    with st.store() as store:
        assert any(r["run_id"] == manifest["run_id"] for r in store.list_runs("regress"))

    s = table[table.term == "chamber=S"].set_index("method")
    ids = list(truth)
    y = np.asarray([truth[d] == "health" for d in ids], dtype=float)
    senate = np.asarray([int(d[1:]) % 3 == 0 for d in ids])
    true_gap = y[senate].mean() - y[~senate].mean()  # OLS on one dummy: the difference
    unclustered = regress(st, coded, outcome="health", covariates=["chamber"],
                          out_dir=tmp_path / "plain", figure=False).table
    u = unclustered[unclustered.term == "chamber=S"].set_index("method")
    for method in ("dsl", "ppi", "sample-only"):
        assert u.loc[method, "low"] <= true_gap <= u.loc[method, "high"], method
    assert u.loc["naive", "high"] < true_gap  # the model misses Senate health bills
    assert s.loc["dsl", "se"] > 0 and u.loc["dsl", "se"] < u.loc["sample-only", "se"]
    shuffled = tmp_path / "shuffled.csv"
    pd.read_parquet(coded).sample(frac=1.0, random_state=1).to_csv(shuffled, index=False)
    again = regress(st, shuffled, outcome="health", covariates=["chamber"],
                    out_dir=tmp_path / "again", figure=False).table
    pd.testing.assert_frame_equal(unclustered, again)
    scored = regress(st, coded, outcome="health", covariates=["chamber"], model="logit",
                     outcome_from="scores", out_dir=tmp_path / "logit", figure=False).table
    assert scored.loc[scored.method == "dsl", "lambda"].eq(1.0).all()
    res = runner.invoke(app, ["estimate", "--predictions", str(coded), "--study",
                              str(st.root), "--out", str(tmp_path / "shares")])
    assert res.exit_code == 0 and (tmp_path / "shares" / "shares.csv").is_file(), res.output


def test_clear_errors(tmp_path: Path) -> None:
    st, coded, truth = make(tmp_path)
    with pytest.raises(ReplicoderError, match="no random validation sample"):
        regress(st, coded, outcome="health", covariates=["chamber"])
    naive = regress(st, coded, outcome="health", covariates=["chamber"], methods=["naive"],
                    figure=False)
    assert set(naive.table["method"]) == {"naive"}
    drawn = draw_sample(st, 120, 1, source=coded, coders=["anna"])
    review(st, drawn.doc_ids, truth)
    with pytest.raises(ReplicoderError, match="--outcome defence: not a label .* econ "
                                              r"\(Economy\)"):
        regress(st, coded, outcome="defence", covariates=["chamber"])
    frame = pd.read_parquet(coded)
    frame.assign(house=1).to_parquet(tmp_path / "const.parquet", index=False)
    with pytest.raises(ReplicoderError, match="covariate 'house' is constant"):
        regress(st, tmp_path / "const.parquet", outcome="health", covariates=["house"])
    frame.assign(length=frame["length"].where(frame.index != 7)).to_parquet(
        tmp_path / "gaps.parquet", index=False)
    with pytest.raises(ReplicoderError, match="covariate 'length' has missing values in 1 "
                                              "rows .*'b0007'"):
        regress(st, tmp_path / "gaps.parquet", outcome="health", covariates=["length"])
    with pytest.raises(ReplicoderError, match="no column 'party'.*--meta party"):
        regress(st, coded, outcome="health", covariates=["party"])
    with pytest.raises(ReplicoderError, match="--model probit"):
        regress(st, coded, outcome="health", covariates=["chamber"], model="probit")
    outside = [i for i, d in enumerate(frame["id"]) if d not in set(drawn.doc_ids)][:6]
    frame.assign(flag=np.isin(np.arange(len(frame)), outside).astype(int)).to_parquet(
        tmp_path / "flag.parquet", index=False)  # no sampled document has flag = 1
    partial = regress(st, tmp_path / "flag.parquet", outcome="health", covariates=["flag"],
                      figure=False)
    assert set(partial.table["method"]) == {"dsl", "ppi", "naive"}
    assert any(w.startswith("--method sample-only gave no result: the covariates are "
                            "collinear") for w in partial.warnings)
    with pytest.raises(ReplicoderError, match="collinear"):
        regress(st, tmp_path / "flag.parquet", outcome="health", covariates=["flag"],
                methods=["sample-only"])
    runner = CliRunner()
    res = runner.invoke(app, ["estimate", "regress", "--predictions", str(coded), "--outcome",
                              "health", "--covariates", "chamber", "--reference", "chamber",
                              "--study", str(st.root)])
    assert res.exit_code != 0 and "write COLUMN=LEVEL" in str(res.exception)
    res = runner.invoke(app, ["estimate", "--study", str(st.root)])
    assert res.exit_code == 2 and "Missing option '--predictions'" in res.output
    res = runner.invoke(app, ["estimate", "regress", "--help"], terminal_width=200)
    assert res.exit_code == 0
    for text in ("--power", "--cluster", "--reference", "--outcome-from", "design-based"):
        assert text in res.output, text
    res = runner.invoke(app, ["estimate", "--help"], terminal_width=200)
    assert res.exit_code == 0 and "regress" in res.output and "--predictions" in res.output

    time.sleep(1.1)  # a training after the sample's review: it saw sampled documents
    splits.ensure_split(st)
    Run.start(st, "train").write({"name": "m"})
    with pytest.raises(ReplicoderError, match="model 'm' was trained .* on \\d+ documents of "
                                              "validation sample"):
        regress(st, coded, outcome="health", covariates=["chamber"])
