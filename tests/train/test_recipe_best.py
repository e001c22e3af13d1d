"""``train NAME --recipe best``: draft then refit in one command (tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_splits import make_study
from test_train import quick, rows, tiny  # noqa: F401  (fixtures)
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.models import load_trained
from replicoder.train import TrainConfig
from replicoder.train.recipe import train_recipe

pytestmark = pytest.mark.timeout(600)


def test_recipe_best_drafts_then_refits_with_the_drafts_settings(
        tmp_path: Path, tiny: str, rows: pd.DataFrame) -> None:  # noqa: F811
    st = make_study(tmp_path / "s", rows)
    said: list[str] = []
    result = train_recipe(st, "best", quick(tiny, epochs=2), say=said.append)
    draft = json.loads((st.models_dir / "best-draft" / "manifest.json").read_text())
    final = result.manifest
    assert draft["config"]["with_tfidf"] and draft["config"]["label_smoothing"] == 0.1
    assert not draft["config"]["refit"]
    config = final["config"]
    weight = json.loads((st.models_dir / "best-draft" / "metrics.json").read_text()
                        )["tfidf_weight"]
    assert config["refit"] and config["epochs"] == 2 and config["base_dtype"] == "bf16"
    assert config["tfidf_weight"] == weight and config["label_smoothing"] == 0.1
    assert config["max_length"] == draft["config"]["max_length"]
    assert final["data"]["n_train"] == draft["data"]["n_train"] + draft["data"]["n_validation"]
    assert final["recipe"]["draft"]["run_id"] == draft["run_id"]
    assert final["recipe"]["draft"]["tfidf_weight"] == weight
    assert any("step 2 of 2" in s for s in said)
    assert load_trained(st, "best").ensemble is not None


def test_recipe_best_reuses_a_finished_draft_from_the_cli(
        tmp_path: Path, tiny: str, rows: pd.DataFrame) -> None:  # noqa: F811
    st = make_study(tmp_path / "s", rows)
    args = ["train", "b", "--base", tiny, "--epochs", "1", "--batch-size", "8",
            "--recipe", "best", "--study", str(st.root)]
    first = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert first.exit_code == 0, first.output
    assert "step 1 of 2" in first.output and "step 2 of 2" in first.output
    draft_sha = json.loads((st.models_dir / "b-draft" / "manifest.json").read_text()
                           )["adapter_sha256"]
    import shutil

    shutil.rmtree(st.models_dir / "b")  # as if the refit had been stopped
    again = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert again.exit_code == 0, again.output
    assert "reusing the finished draft b-draft" in again.output
    final = json.loads((st.models_dir / "b" / "manifest.json").read_text())
    assert final["recipe"]["draft"]["adapter_sha256"] == draft_sha


def test_recipe_best_is_refused_where_it_does_not_apply(
        tmp_path: Path, tiny: str, rows: pd.DataFrame) -> None:  # noqa: F811
    st = make_study(tmp_path / "s", rows)
    with pytest.raises(ReplicoderError, match="generative mode has no TF-IDF ensemble"):
        train_recipe(st, "g", TrainConfig(base=tiny, mode="generative"))
    with pytest.raises(ReplicoderError, match="leave out --refit and --tfidf-weight"):
        train_recipe(st, "r", quick(tiny, refit=True, with_tfidf=True, tfidf_weight=1.0))
    multi = study_mod.init(tmp_path / "m", multi_label=True)
    with pytest.raises(ReplicoderError, match="this codebook is multi-label"):
        train_recipe(multi, "m", quick(tiny))
    res = CliRunner().invoke(app, ["train", "x", "--base", tiny, "--recipe", "best",
                                   "--mode", "generative", "--study", str(st.root)])
    assert isinstance(res.exception, ReplicoderError)
    assert "generative mode has no TF-IDF ensemble" in str(res.exception)
    assert not (st.models_dir / "x-draft").exists()
