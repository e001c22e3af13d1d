"""Learning curves on the shipped CAP sample: the TF-IDF baseline through the same code path
as fine-tuning, an injected trainer, and LoRA on a tiny Llama model for the plumbing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from replicoder import study as study_mod
from replicoder.datasets.bills import sample_study
from replicoder.errors import ReplicoderError
from replicoder.evaluate.compare import EvalDocs, evaluate_models
from replicoder.evaluate.curve import (
    learning_curve,
    parse_sizes,
    resolve_sizes,
    tfidf_trainer,
)
from replicoder.predictions import Predictions
from replicoder.splits import split_ids


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> study_mod.Study:
    return sample_study(tmp_path_factory.mktemp("lc") / "study")


def test_tfidf_curve_grows_and_is_reproducible(study: study_mod.Study) -> None:
    n_train = len(split_ids(study, "train"))
    r = learning_curve(study, [50, 200, "all", 5000], repeats=2, trainer="tfidf", n_boot=100)
    assert r["sizes"] == [50, 200, n_train]  # 5000 is more than there is: clipped to all
    assert [(p["size"], p["repeat"]) for p in r["curve"]] == [
        (s, k) for k in (0, 1) for s in (50, 200, n_train)]
    at = {(p["size"], p["repeat"]): p for p in r["curve"]}
    acc = {s: at[(s, 0)]["metrics"]["subset_accuracy"] for s in r["sizes"]}
    assert acc[50] < acc[200] < acc[n_train]
    assert at[(50, 0)]["train_ids_sha256"] != at[(50, 1)]["train_ids_sha256"]
    assert at[(n_train, 0)]["train_ids_sha256"] == at[(n_train, 1)]["train_ids_sha256"]
    for p in r["curve"]:
        m = p["metrics"]
        assert m["n_documents"] == len(split_ids(study, "test"))
        assert m["ci"]["subset_accuracy"][0] <= m["subset_accuracy"] <= \
            m["ci"]["subset_accuracy"][1]
    run = Path(r["run_dir"])
    assert (run / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "learning_curve.png" in (run / "report.html").read_text()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["kind"] == "learning-curve" and manifest["documents"]["test"]["n"] == 200
    with study.store() as store:
        assert r["run_id"] in [x["run_id"] for x in store.list_runs("learning-curve")]
    again = learning_curve(study, [50, 200, "all"], repeats=2, trainer="tfidf", n_boot=100)
    assert [p["metrics"] for p in again["curve"]] == [p["metrics"] for p in r["curve"]]


def test_injected_trainer_gets_nested_seeded_subsets_of_the_train_part(
    study: study_mod.Study,
) -> None:
    seen: list[tuple[str, list[str], int]] = []

    def trainer(st: study_mod.Study, name: str, ids: list[str], seed: int
                ) -> tuple[Any, dict[str, Any]]:
        seen.append((name, ids, seed))
        predict, info = tfidf_trainer(st, name, ids, seed)

        def counted(docs: EvalDocs) -> Predictions:
            assert docs.part == "test"
            return predict(docs)

        return counted, {**info, "kind": "custom"}

    r = learning_curve(study, [30, 60], repeats=2, seed=7, trainer=trainer, n_boot=50)
    train = set(split_ids(study, "train"))
    assert [len(ids) for _, ids, _ in seen] == [30, 60, 30, 60]
    assert [s for _, _, s in seen] == [7, 7, 8, 8]
    assert all(set(ids) <= train for _, ids, _ in seen)
    assert set(seen[0][1]) < set(seen[1][1]) and set(seen[2][1]) < set(seen[3][1])
    assert seen[0][1] != seen[2][1]
    assert r["models"][seen[0][0]]["kind"] == "custom"
    first = [ids for _, ids, _ in seen]
    seen.clear()
    learning_curve(study, [30, 60], repeats=2, seed=7, trainer=trainer, n_boot=50)
    assert [ids for _, ids, _ in seen] == first


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sizes": [1]}, "size 1"),
        ({"sizes": ["most"]}, "size 'most'"),
        ({"repeats": 0}, "--repeats must be at least 1"),
        ({"trainer": "bert"}, "unknown trainer 'bert'"),
        ({"trainer": None, "learning_rate": 1}, "unknown training settings: learning_rate"),
        ({"trainer": None, "mode": "chat"}, "unknown mode 'chat'"),
    ],
)
def test_bad_requests(study: study_mod.Study, kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("trainer", "tfidf")
    with pytest.raises(ReplicoderError, match=message):
        learning_curve(study, n_boot=10, **kwargs)


def test_parse_and_resolve_sizes() -> None:
    assert parse_sizes("100, 250,all") == [100, 250, "all"]
    with pytest.raises(ReplicoderError, match="'1e3' is not a number"):
        parse_sizes("100,1e3")
    with pytest.raises(ReplicoderError, match="empty"):
        parse_sizes(" , ")
    assert resolve_sizes([500, "all", 100, 100], 300) == [100, 300]


def test_study_without_labels_fails_clearly(tmp_path: Path) -> None:
    st = study_mod.init(tmp_path / "s", "cap")
    with pytest.raises(ReplicoderError, match="no document has labels"):
        learning_curve(st, [10], trainer="tfidf")


def test_fine_tuning_path_with_a_tiny_llama(study: study_mod.Study, tmp_path: Path) -> None:
    """Plumbing only: a tiny random model of the embedded architecture learns nothing."""
    from replicoder.models.tiny import build_tiny

    base = str(build_tiny(tmp_path / "tiny"))
    kwargs = {"epochs": 1, "max_length": 24, "batch_size": 8, "checkpoint_every": 100}
    r = learning_curve(study, [16], base=base, n_boot=50, **kwargs)
    names = [p["model"] for p in r["curve"]]
    for name in names:
        entry = r["models"][name]
        assert entry["kind"] == "fine-tuned" and len(entry["adapter_sha256"]) == 64
        assert (study.models_dir / name / "manifest.json").is_file()
    stamp = (study.models_dir / names[0] / "manifest.json").stat().st_mtime_ns
    again = learning_curve(study, [16], base=base, n_boot=50, **kwargs)  # reuses the model
    assert (study.models_dir / names[0] / "manifest.json").stat().st_mtime_ns == stamp
    assert [p["metrics"] for p in again["curve"]] == [p["metrics"] for p in r["curve"]]
    # the fine-tuned model in evaluate, next to its zero-shot base and the baseline
    zero = f"zero-shot:{base}"
    e = evaluate_models(study, [names[-1], zero], n_boot=50, train_rows=False)
    assert list(e["models"]) == [names[-1], zero, "tfidf"]
    assert e["models"][zero]["kind"] == "zero-shot"
    assert study.codebook.labels[0].name in e["models"][zero]["prompt"]  # in the manifest
    scored = dict(e["models"][names[-1]]["parts"]["test"])
    assert scored.pop("vs_baseline")["baseline"] == "tfidf"  # evaluate pairs it with tfidf
    assert scored == r["models"][names[-1]]["parts"]["test"]
    assert e["documents"]["test"] == r["documents"]["test"]


def test_cli(study: study_mod.Study) -> None:
    cmd = [sys.executable, "-m", "replicoder", "learning-curve", "--study", str(study.root),
           "--trainer", "tfidf", "--n-boot", "20"]
    ok = subprocess.run(cmd + ["--sizes", "40,all"], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "TF-IDF" in ok.stdout and "700" in ok.stdout and "report.html" in ok.stdout
    bad = subprocess.run(cmd + ["--sizes", "40,lots"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "'lots' is not a number" in bad.stderr
    assert "Traceback" not in bad.stderr
