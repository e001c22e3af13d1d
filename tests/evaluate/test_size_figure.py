"""The seed paper's size figure: metrics against model parameters when sizes differ."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from paths import SAMPLE

from replicoder import importer
from replicoder import study as study_mod
from replicoder.evaluate.compare import evaluate_models, load_parts
from replicoder.evaluate.size import size_figure
from replicoder.models.size import parameter_count
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> study_mod.Study:
    root = tmp_path_factory.mktemp("size")
    pd.read_csv(SAMPLE).head(200).to_csv(root / "docs.csv", index=False)
    st = study_mod.init(root / "study", "cap")
    importer.import_file(st, root / "docs.csv", text="text", id="id", labels="major_topic")
    tiny = str(build_tiny(root / "tiny"))
    train(st, "tiny", TrainConfig(base=tiny, epochs=1, batch_size=16, train_size=32,
                                  precision="fp32"))
    return st


def _predictions(st: study_mod.Study, path: Path, wrong_every: int) -> Path:
    parts = load_parts(st, ["train", "test"])
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "labels"])
        for docs in parts.values():
            for i, (doc, truth) in enumerate(zip(docs.doc_ids, docs.truth, strict=True)):
                w.writerow([doc, "1" if i % wrong_every == 0 else ";".join(sorted(truth))])
    return path


def test_a_trained_model_records_its_size(study: study_mod.Study) -> None:
    manifest = json.loads((study.models_dir / "tiny" / "manifest.json").read_text())
    n = manifest["base"]["parameters"]
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(manifest["base"]["name"]) \
        if Path(manifest["base"]["name"]).is_dir() else None
    assert isinstance(n, int) and 1e6 < n < 1e7  # the tiny model: about 3.3M
    if base is not None:
        assert parameter_count(base) <= n < 1.01 * parameter_count(base)  # + a frozen head


def test_size_figure_drawn_for_two_sizes_and_not_for_one(study: study_mod.Study,
                                                         tmp_path: Path) -> None:
    big = _predictions(study, tmp_path / "big.csv", wrong_every=5)
    result = evaluate_models(study, ["tiny"], external={"L2-7B": big},
                             parameters={"L2-7B": 7e9}, n_boot=20)
    run = Path(result["run_dir"])
    assert result["models"]["L2-7B"]["parameters"] == 7e9
    assert 1e6 < result["models"]["tiny"]["parameters"] < 1e7
    assert "tfidf" in result["models"] and "parameters" not in result["models"]["tfidf"]
    png = run / "size.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert 'src="size.png"' in (run / "report.html").read_text("utf-8")
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["models"]["L2-7B"]["parameters"] == 7e9
    alone = evaluate_models(study, [], external={"L2-7B": big}, parameters={"L2-7B": 7e9},
                            n_boot=20)
    assert not (Path(alone["run_dir"]) / "size.png").exists()
    assert not size_figure(alone, tmp_path / "none.png")


def test_cli_params_and_its_errors(study: study_mod.Study, tmp_path: Path) -> None:
    a = _predictions(study, tmp_path / "a.csv", wrong_every=3)
    b = _predictions(study, tmp_path / "b.csv", wrong_every=7)
    cmd = [sys.executable, "-m", "replicoder", "evaluate", "--study", str(study.root),
           "--baseline", "none", "--n-boot", "20", "--predictions", f"L2-7B={a}",
           "--predictions", f"L2-70B={b}"]
    ok = subprocess.run(cmd + ["--params", "L2-7B=7e9", "--params", "L2-70B=70B"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    runs = sorted(study.root.glob("runs/*/size.png"), key=lambda p: p.stat().st_mtime)
    metrics = json.loads((runs[-1].parent / "metrics.json").read_text())
    assert metrics["models"]["L2-70B"]["parameters"] == 7e10
    for bad, says in ((["--params", "L2-7B=big"], "positive number"),
                      (["--params", "L2-13B=13e9"], "no model of that name")):
        out = subprocess.run(cmd + bad, capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr


def test_the_paper_models_sizes_come_from_their_names() -> None:
    from replicoder.datasets.flourishing import paper_sizes

    names = ["L2-13B-FT", "L2-70B-FT", "L2-7B-FT", "L3-70B-FT", "L32-1B-FT", "chatgpt4"]
    assert paper_sizes(names) == {"L2-13B-FT": 13e9, "L2-70B-FT": 70e9, "L2-7B-FT": 7e9,
                                  "L3-70B-FT": 70e9, "L32-1B-FT": 1e9}


def test_near_equal_sizes_are_one_size(tmp_path: Path) -> None:
    """A fine-tuned classifier and its zero-shot base differ by a head: no size figure."""
    result = {"models": {"zero-shot": {"parameters": 134_515_008},
                         "m": {"parameters": 134_527_104}, "tfidf": {}}}
    assert not size_figure(result, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_sizes_read_as_people_write_them() -> None:
    from replicoder.evaluate.size import human

    assert [human(n) for n in (7e9, 1.35e8, 7e10, 3.3e6, 500)] == \
        ["7B", "135M", "70B", "3.3M", "500"]
