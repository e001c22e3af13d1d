"""estimate plan (issue 30): sample sizes for PPI intervals of a given width."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from estimate_study import make, review
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.estimate.ppi import mover_sum, poststratify, wilson, z_value
from replicoder.estimate.sample_size import plan, ppi_width, sample_only_width, sample_size


def test_predicted_width_matches_simulated_samples() -> None:
    rng = np.random.default_rng(0)
    n_pop, pi, ppv, fom, width = 20_000, 0.3, 0.8, 0.05, 0.08
    z = z_value(0.95)
    n = sample_size(width, lambda m: ppi_width(m, pi, ppv, fom, z))
    assert ppi_width(n, pi, ppv, fom, z) <= width < ppi_width(n - 1, pi, ppv, fom, z)
    p = pi * ppv + (1 - pi) * fom
    n_so = sample_size(width, lambda m: sample_only_width(m, p, z))
    assert n < n_so
    yhat = rng.random(n_pop) < pi
    y = np.where(yhat, rng.random(n_pop) < ppv, rng.random(n_pop) < fom)
    widths = []
    for _ in range(200):
        pick = rng.choice(n_pop, n, replace=False)
        w, k, m = poststratify(y[pick, None], yhat[pick, None], yhat[:, None])
        b = mover_sum(w, wilson(k, m, z))
        widths.append(float(b.high[0] - b.low[0]))
    assert abs(np.mean(widths) - width) / width < 0.1


def test_plan_from_scores_then_from_a_pilot(tmp_path: Path) -> None:
    st, coded, truth = make(tmp_path, n=600)
    res = CliRunner().invoke(app, ["estimate", "plan", "--width", "0.1", "--predictions",
                                   str(coded), "--study", str(st.root)])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "(from scores)" in said and "Every label within 0.1: sample" in said
    first = plan(st, 0.1, predictions=coded)
    t = first.table.set_index("label")
    assert first.source == "scores" and first.pilot == 0
    assert (t["n_ppi"] <= t["n_sample_only"]).all()
    assert first.totals["n_ppi"] == t["n_ppi"].max()
    from replicoder.review.sample import draw_sample

    sample = draw_sample(st, 80, 2, source=coded, coders=["anna"])
    review(st, sample.doc_ids, truth)
    second = plan(st, 0.1, predictions=coded, by=["year"])
    t2 = second.table
    assert second.source == "pilot" and second.pilot == 80
    assert set(t2["year"]) == {"2019", "2020", "2021"} and len(t2) == 3 * 4
    assert t2["pilot"].sum() == 80 * 4
    # the pilot shows the model calls 40% of health documents economy: precision of econ
    # falls from the scores' 0.925
    econ = second.table.groupby("label")["ppv"].mean()["econ"]
    assert econ < 0.85
    assert second.totals["n_ppi"] == int(t2.groupby("year")["n_ppi"].max().sum())


def test_plan_errors(tmp_path: Path) -> None:
    st, coded, _ = make(tmp_path)
    with pytest.raises(ReplicoderError, match="--predictions: give the classified output"):
        plan(st, 0.1)
    with pytest.raises(ReplicoderError, match="--width 2"):
        plan(st, 2, predictions=coded)
    bare = tmp_path / "bare.csv"
    pd.read_parquet(coded)[["id", "labels"]].to_csv(bare, index=False)
    with pytest.raises(ReplicoderError, match="no score_<code> probabilities and the study "
                                              "has no verified pilot"):
        plan(st, 0.1, predictions=bare)
    (tmp_path / "one.yaml").write_text("name: one\nlabels:\n  - {code: a, name: A}\n")
    one = study_mod.init(tmp_path / "one", tmp_path / "one.yaml")
    with pytest.raises(ReplicoderError, match="has one label and is single-label"):
        plan(one, 0.1, predictions=coded)
    res = CliRunner().invoke(app, ["estimate", "--study", str(st.root)])
    assert res.exit_code == 2 and "Missing option '--predictions'" in res.output
