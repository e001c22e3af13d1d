"""Training plumbing with a tiny random model of the embedded architecture: files,
manifest, resume after a stop, both modes, multi-label thresholds, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paths import BILLS
from test_splits import make_study

from replicoder import importer
from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.hashing import weights_sha256
from replicoder.models import load_trained
from replicoder.models.tiny import build_tiny
from replicoder.progress import Task
from replicoder.train import TrainConfig, TrainingStopped, train

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    df = pd.read_csv(BILLS)
    return df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(20)


def quick(tiny: str, **kw: object) -> TrainConfig:
    base = dict(base=tiny, epochs=2, batch_size=8, lr=1e-3, checkpoint_every=2)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_config_round_trips_and_rejects_bad_values(tmp_path: Path) -> None:
    config = TrainConfig(mode="generative", epochs=5, target_modules=["q_proj"])
    config.save(tmp_path / "c.json")
    assert TrainConfig.load(tmp_path / "c.json") == config
    with pytest.raises(ReplicoderError, match="unknown mode"):
        TrainConfig(mode="regression")
    with pytest.raises(ReplicoderError, match="unknown label source"):
        TrainConfig(source="crowd")
    with pytest.raises(ReplicoderError, match="unknown training settings: colour"):
        TrainConfig.from_dict({"colour": 1})
    with pytest.raises(ReplicoderError, match="lr must be positive"):
        TrainConfig(lr=0)


def test_learning_rate_defaults_depend_on_the_mode() -> None:
    assert TrainConfig().lr == 3e-4
    assert TrainConfig(mode="generative").lr == 1e-3
    assert TrainConfig(mode="generative", lr=2e-4).lr == 2e-4


def test_train_writes_model_folder_and_manifest(tmp_path: Path, tiny: str,
                                                rows: pd.DataFrame) -> None:
    st = make_study(tmp_path / "s", rows)
    result = train(st, "m1", quick(tiny))
    folder = st.models_dir / "m1"
    for name in ("adapter", "label_map.json", "metrics.json", "manifest.json", "config.json"):
        assert (folder / name).exists(), name
    assert not (folder / "checkpoint").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["adapter_sha256"] == weights_sha256(folder / "adapter")
    assert manifest["codebook_sha256"] == st.codebook.sha256
    assert manifest["base"]["sha256"] == weights_sha256(Path(tiny))
    assert manifest["data"]["n_train"] == 56 and manifest["data"]["n_validation"] == 8
    assert len(manifest["data"]["train_sha256"]) == 64
    assert manifest["seed"] == 0 and manifest["split_seed"] == 0
    assert "torch" in manifest["versions"] and "peft" in manifest["versions"]
    assert result.metrics["steps"] == 2 * 7
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["split"] == "validation" and len(metrics["history"]) == 2
    with st.store() as store:
        assert [r["kind"] for r in store.list_runs("train")] == ["train"]
    model = load_trained(st, "m1")
    docs = rows.head(5)
    pred = model.predict(docs.text.tolist(), docs.id.astype(str).tolist())
    assert pred.scores is not None and pred.scores.shape == (5, len(st.codebook))
    np.testing.assert_allclose(pred.scores.sum(axis=1), 1.0, rtol=1e-5)
    assert all(len(s) == 1 for s in pred.labels)
    assert pred.provenance and pred.provenance["adapter_sha256"] == manifest["adapter_sha256"]
    with pytest.raises(ReplicoderError, match="already exists"):
        train(st, "m1", quick(tiny))


def test_stopped_training_resumes_to_the_same_model(tmp_path: Path, tiny: str,
                                                    rows: pd.DataFrame) -> None:
    st = make_study(tmp_path / "s", rows)
    config = quick(tiny, checkpoint_every=4)
    whole = train(st, "whole", config)
    with pytest.raises(TrainingStopped, match="after 5 of 14 steps"):
        train(st, "cut", config, stop_after=5)
    assert (st.models_dir / "cut" / "checkpoint" / "checkpoint.pt").is_file()
    with pytest.raises(ReplicoderError, match="other settings"):
        train(st, "cut", quick(tiny, lr=5e-4))
    resumed = train(st, "cut", config)
    assert resumed.manifest["adapter_sha256"] == whole.manifest["adapter_sha256"]
    assert resumed.metrics["subset_accuracy"] == whole.metrics["subset_accuracy"]


TRAIN_IN_CHILD = """
import sys
from replicoder import study as study_mod
from replicoder.train import TrainConfig, train
config = TrainConfig(base=sys.argv[3], epochs=1, batch_size=8, lr=1e-3)
print(train(study_mod.open_study(sys.argv[1]), sys.argv[2], config).manifest["adapter_sha256"])
"""


def test_same_training_gives_the_same_adapter_hash_in_another_process(
        tmp_path: Path, tiny: str, rows: pd.DataFrame) -> None:
    """peft writes its target modules in set order, which follows each process's string
    hash seed: the adapter folder (and its hash) must not."""
    st = make_study(tmp_path / "s", rows)
    hashes = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", TRAIN_IN_CHILD, str(st.root), f"m{seed}",
                               tiny], capture_output=True, text=True, env=env, check=True)
        hashes.append(done.stdout.split()[-1])
    assert hashes[0] == hashes[1]
    configs = [json.loads((st.models_dir / f"m{seed}" / "adapter" / "adapter_config.json")
                          .read_text()) for seed in ("1", "2")]
    assert configs[0]["target_modules"] == sorted(configs[0]["target_modules"])
    assert configs[0] == configs[1]


class Recorder:
    """A progress callback that keeps every figure reported, per task."""

    def __init__(self) -> None:
        self.figures: list[dict[str, float]] = []

    def __call__(self, description: str, total: int | None, done: int = 0) -> Task:
        def task(n: int = 1, **figures: float) -> None:
            if figures and "loss" not in figures:
                self.figures.append(figures)
        return task


def test_progress_shows_the_metric_the_summary_reports(tmp_path: Path, tiny: str,
                                                       rows: pd.DataFrame) -> None:
    """Issue 12.19 and 12.20: the bar's validation figure is the summary's accuracy, and a
    --train-size above the labelled documents is capped with a note."""
    st = make_study(tmp_path / "s", rows)
    progress = Recorder()
    result = train(st, "m", quick(tiny, train_size=500), progress=progress)
    assert [set(f) for f in progress.figures] == [{"val_accuracy", "val_f1_macro"}] * 2
    # the best of the shown figures is the model kept, whose accuracy the summary prints
    assert max(f["val_accuracy"] for f in progress.figures) == result.metrics["subset_accuracy"]
    note = "--train-size 500 is more than the 56 labelled training documents: trained on all 56"
    assert result.notes[0] == note and result.manifest["notes"] == result.notes
    assert [n.split(":")[0] for n in result.notes[1:]] == ["template auto"]
    assert result.manifest["data"]["n_train"] == 56


def test_cli_prints_the_train_size_note(tmp_path: Path, tiny: str, rows: pd.DataFrame) -> None:
    from typer.testing import CliRunner

    from replicoder.cli import app

    st = make_study(tmp_path / "s", rows)
    res = CliRunner().invoke(app, ["train", "c", "--base", tiny, "--epochs", "1",
                                   "--train-size", "900", "--study", str(st.root)],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Note: --train-size 900 is more than the 56 labelled training documents" in \
        res.output


def test_failed_device_leaves_no_model_folder(tmp_path: Path, tiny: str,
                                              rows: pd.DataFrame) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: device cuda does not fail")
    st = make_study(tmp_path / "s", rows)
    with pytest.raises(ReplicoderError, match="no CUDA GPU"):
        train(st, "gpu", quick(tiny, device="cuda"))
    assert not (st.models_dir / "gpu").exists()


def test_generative_mode_plumbing(tmp_path: Path, tiny: str, rows: pd.DataFrame) -> None:
    st = make_study(tmp_path / "s", rows)
    progress = Recorder()
    result = train(st, "gen", quick(tiny, mode="generative", epochs=1), progress=progress)
    assert "validation_loss" in result.metrics
    # the bar shows the validation loss as a loss (positive, named so), the best is kept
    assert progress.figures and all(set(f) == {"val_loss"} for f in progress.figures)
    assert all(f["val_loss"] > 0 for f in progress.figures)
    assert min(f["val_loss"] for f in progress.figures) == result.metrics["validation_loss"]
    label_map = json.loads((st.models_dir / "gen" / "label_map.json").read_text())
    assert label_map["mode"] == "generative" and "codebook" in label_map["instruction"]
    model = load_trained(st, "gen")
    pred = model.predict(rows.text.head(3).tolist(), ["a", "b", "c"])
    assert pred.scores is not None and pred.scores.shape == (3, len(st.codebook))
    assert set(np.unique(pred.scores)) <= {0.0, 1.0}
    assert pred.provenance is not None and len(pred.provenance["raw_answers"]) == 3


def test_multi_label_classifier_tunes_thresholds(tmp_path: Path, tiny: str,
                                                 rows: pd.DataFrame) -> None:
    st = study_mod.init(tmp_path / "s", multi_label=True)
    multi = rows.copy()
    multi["major_topic"] = [f"{t};5" if i % 3 == 0 else str(t)
                            for i, t in enumerate(multi.major_topic)]
    multi.to_csv(tmp_path / "m.csv", index=False)
    importer.import_file(st, tmp_path / "m.csv", text="text", id="id", labels="major_topic")
    train(st, "ml", quick(tiny, epochs=1))
    thresholds = json.loads((st.models_dir / "ml" / "thresholds.json").read_text())
    assert set(thresholds) == set(st.codebook.codes)
    assert all(0.0 < t < 1.0 for t in thresholds.values())
    pred = load_trained(st, "ml").predict(rows.text.head(4).tolist(), list("abcd"))
    assert pred.scores is not None and float(pred.scores.max()) <= 1.0
    assert not np.allclose(pred.scores.sum(axis=1), 1.0)  # sigmoid, not softmax


def test_bad_input(tmp_path: Path, tiny: str, rows: pd.DataFrame) -> None:
    st = make_study(tmp_path / "s", rows)
    with pytest.raises(ReplicoderError, match="unknown model 'nonsense'"):
        train(st, "x", TrainConfig(base="nonsense"))
    with pytest.raises(ReplicoderError, match="no such file or folder"):
        train(st, "x", TrainConfig(base=str(tmp_path / "missing.gguf")))
    with pytest.raises(ReplicoderError, match="model name"):
        train(st, "../evil", quick(tiny))
    with pytest.raises(ReplicoderError, match="unknown model 'nothing'"):
        load_trained(st, "nothing")
    empty = study_mod.init(tmp_path / "empty")
    with pytest.raises(ReplicoderError, match="no documents"):
        train(empty, "x", quick(tiny))
    unlabelled = make_study(tmp_path / "u", rows, labels=False)
    with pytest.raises(ReplicoderError, match="no documents with gold labels"):
        train(unlabelled, "x", quick(tiny))


def test_trains_on_verified_labels(tmp_path: Path, tiny: str, rows: pd.DataFrame) -> None:
    from replicoder.store.reviews import Decision

    st = make_study(tmp_path / "s", rows, labels=False)
    with pytest.raises(ReplicoderError, match="no documents with verified labels"):
        train(st, "v", quick(tiny, source="verified"))
    with st.store() as store:
        for doc_id, topic in zip(rows.id.astype(str), rows.major_topic, strict=True):
            store.add_decision(Decision(doc_id, "ann", frozenset([str(topic)]), frozenset(),
                                        frozenset(), False, 1.0, "2026-01-01T00:00:00",
                                        {str(topic): ["gpt"]}))
    result = train(st, "v", quick(tiny, source="verified", epochs=1))
    assert result.manifest["data"]["source"] == "verified"
    assert result.manifest["data"]["n_train"] == 56
    with pytest.raises(ReplicoderError, match="no documents with gold labels"):
        train(st, "g", quick(tiny))
