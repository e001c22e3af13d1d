"""freeze carries `estimate` and `estimate regress` runs; reproduce re-runs and compares them.

A real SQLite study (300 bills, a stratified validation sample verified by a coder), a
classified file written as a model would write it; no model is needed to estimate.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from estimate_study import THREE_TOPICS as CODEBOOK
from typer.testing import CliRunner

from replicoder import importer
from replicoder import study as study_mod
from replicoder.cli import app
from replicoder.estimate.coefficients import regress
from replicoder.estimate.corpus import estimate
from replicoder.replicate.archive import freeze
from replicoder.replicate.estimates import REL_TOL, command, estimate_runs, rerun
from replicoder.replicate.rerun import reproduce
from replicoder.review import session
from replicoder.review.sample import draw_sample


def make(tmp_path: Path, n: int = 300) -> tuple[study_mod.Study, Path, dict[str, str]]:
    """Senate bills are more often about health, and the model misses more of them."""
    rng = np.random.default_rng(11)
    (tmp_path / "codebook.yaml").write_text(CODEBOOK)
    st = study_mod.init(tmp_path / "study", tmp_path / "codebook.yaml")
    ids = [f"b{i:04d}" for i in range(n)]
    chamber = np.where(np.arange(n) % 3 == 0, "S", "HR")
    truth = np.where(rng.random(n) < np.where(chamber == "S", 0.6, 0.3), "health",
                     rng.choice(["econ", "env"], size=n)).astype(object)
    missed = (truth == "health") & (rng.random(n) < np.where(chamber == "S", 0.45, 0.15))
    pred = np.where(missed, "econ", truth)
    pd.DataFrame({"id": ids, "text": [f"bill number {i}" for i in range(n)],
                  "chamber": chamber, "sponsor": [f"m{i % 30}" for i in range(n)]}
                 ).to_csv(tmp_path / "docs.csv", index=False)
    importer.import_file(st, tmp_path / "docs.csv", text="text", id="id",
                         meta=["chamber", "sponsor"])
    coded = pd.DataFrame({"id": ids, "labels": pred, "model": "m",
                          "length": rng.normal(10, 2, n).round(2)})
    for c in ("econ", "health", "env"):
        coded[f"score_{c}"] = np.where(pred == c, 0.8, 0.1)
    path = st.root / "coded.parquet"  # in the study, so that freeze carries it
    coded.to_parquet(path, index=False)
    return st, path, dict(zip(ids, truth, strict=True))


def verify(st: study_mod.Study, doc_ids: list[str], labels: dict[str, str]) -> None:
    with st.store() as store:
        for doc_id in doc_ids:
            session.decide(store, st.codebook, "anna", doc_id, [], [labels[doc_id]], False,
                           2.0)


@pytest.fixture
def verified(tmp_path: Path) -> tuple[study_mod.Study, Path, dict[str, str], list[str]]:
    st, coded, truth = make(tmp_path)
    sample = draw_sample(st, 120, 5, source=coded, strata="chamber", coders=["anna"])
    docs = sorted(sample.doc_ids)
    verify(st, docs, truth)
    return st, coded, truth, docs


def test_freeze_carries_them_and_reproduce_gives_the_same_numbers(
        tmp_path: Path, verified: tuple[study_mod.Study, Path, dict[str, str], list[str]]
) -> None:
    st, coded, _, _ = verified
    logit = regress(st, coded, outcome="health", covariates=["chamber", "length"],
                    model="logit", cluster="sponsor", power_se=0.05)
    elsewhere = regress(st, coded, outcome="Health", covariates=["chamber"],
                        outcome_from="scores", out_dir=tmp_path / "reg")
    shares = estimate(st, coded, by=["chamber"])
    archive = tmp_path / "study.tar.gz"
    freeze(st, archive)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        lock = json.load(tar.extractfile("lock.json"))  # type: ignore[arg-type]
        readme = tar.extractfile("README.md").read().decode()  # type: ignore[union-attr]
    assert "study/coded.parquet" in names
    for run, files in ((logit, ("coefficients.parquet", "coefficients.csv", "power.csv",
                                "coefficients.png")),
                       (elsewhere, ("coefficients.parquet", "coefficients.csv")),
                       (shares, ("shares.parquet", "shares.csv", "shares.png"))):
        assert {f"study/runs/{run.run_id}/{f}" for f in files} <= names, run.run_id
    assert lock["reproducible"] == {logit.run_id: "regress", elsewhere.run_id: "regress",
                                    shares.run_id: "estimate"}
    assert lock["not_reproducible"] == {}
    assert (f"`runs/{logit.run_id}` (regress): `replicoder estimate regress --predictions "
            "coded.parquet") in readme and "--cluster sponsor --power 0.05" in readme

    result = reproduce(archive, tmp_path / "rerun")
    assert result.passed, [c for c in result.checks if not c.passed]
    by_run: dict[str, list[str]] = {}
    for c in result.checks:
        by_run.setdefault(c.run_id, []).append(c.what)
        if c.what.endswith("relative"):
            assert c.value == 0.0, c  # deterministic: bit for bit on this machine
    assert by_run[logit.run_id] == [
        "verified labels as at the run", "coefficients.parquet: rows",
        f"coefficients.parquet: numbers within {REL_TOL:g} relative", "power.csv: rows",
        f"power.csv: numbers within {REL_TOL:g} relative"]
    assert by_run[shares.run_id][1:] == ["shares.parquet: rows",
                                         f"shares.parquet: numbers within {REL_TOL:g} relative"]
    assert {c.step for c in result.checks} == {"regress", "estimate"}
    again = pd.read_parquet(tmp_path / "rerun" / "reproduced" / logit.run_id /
                            "coefficients.parquet")
    pd.testing.assert_frame_equal(again, logit.table, check_exact=True)
    assert not result.diffs and not any("not re-run" in w for w in result.warnings)

    res = CliRunner().invoke(app, ["reproduce", str(archive), "--workdir",
                                   str(tmp_path / "cli"), "--steps", "estimate"])
    assert res.exit_code == 0, res.output
    assert "estimate" in res.output and "pass" in res.output
    assert "FAIL" not in res.output and "regress" not in res.output


def test_labels_reviewed_again_and_changed_inputs_are_reported(
        tmp_path: Path, verified: tuple[study_mod.Study, Path, dict[str, str], list[str]]
) -> None:
    st, coded, truth, docs = verified
    run = regress(st, coded, outcome="health", covariates=["chamber"])
    stale = tmp_path / "old.csv"
    pd.read_parquet(coded).to_csv(stale, index=False)
    moved = st.root / "stale.csv"
    stale.replace(moved)
    gone = estimate(st, moved)
    pd.read_csv(moved).head(10).to_csv(moved, index=False)  # overwritten after the run
    flipped = [d for d in docs if truth[d] == "health"][:6]
    verify(st, flipped, {d: "env" for d in flipped})  # the coder changes their mind
    archive = tmp_path / "study.tar.gz"
    result = freeze(st, archive)
    assert result.lock["reproducible"] == {run.run_id: "regress"}
    why = result.lock["not_reproducible"][gone.run_id]
    assert "stale.csv) was changed after the run" in why

    again = reproduce(archive, tmp_path / "rerun")
    assert not again.passed
    failed = {c.what: c for c in again.checks if not c.passed}
    assert "documents were reviewed again after the run" in \
        failed["verified labels as at the run"].detail
    gap = failed[f"coefficients.parquet: numbers within {REL_TOL:g} relative"].value
    assert gap is not None and gap > 1e-3
    assert any(f"{gone.run_id}: not re-run: its predictions file" in w
               for w in again.warnings)
    diff = pd.read_csv(again.diffs[0])
    assert {"estimate_recorded", "estimate_reproduced", "term", "method"} <= set(diff.columns)


def test_runs_that_cannot_be_rechecked_say_why(
        tmp_path: Path, verified: tuple[study_mod.Study, Path, dict[str, str], list[str]]
) -> None:
    st, coded, _, _ = verified
    run = regress(st, coded, outcome="health", covariates=["chamber"],
                  out_dir=tmp_path / "out", figure=False)
    manifest = json.loads((st.runs_dir / run.run_id / "manifest.json").read_text())
    assert command(manifest).startswith("replicoder estimate regress --predictions "
                                        "coded.parquet --id id --level 0.95")
    hostile = {**manifest, "run_id": "x", "predictions": {**manifest["predictions"],
                                                          "path": "../../etc/passwd"}}
    (st.runs_dir / "x").mkdir()
    (st.runs_dir / "x" / "manifest.json").write_text(json.dumps(hostile))
    (tmp_path / "out" / "manifest.json").write_text(json.dumps({"run_id": "later"}))
    runs, skipped = estimate_runs(st.root, st.runs_dir)
    assert runs == {}
    assert skipped["x"] == "its predictions file (../../etc/passwd) lies outside the study"
    assert "a later run wrote over it" in skipped[run.run_id]
    checks, diffs = rerun(st, run.run_id, {**manifest, "sample_id": "s-none"}, tmp_path / "w")
    assert [c.what for c in checks] == ["re-run"] and not checks[0].passed and not diffs
    assert checks[0].detail.startswith("the re-run stopped: --sample s-none: no such sample")
