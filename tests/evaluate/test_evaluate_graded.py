"""evaluate on a graded study: graded metrics, outside predictions files, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from graded_study import graded_study
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.evaluate.compare import ExternalSpec, evaluate_models, load_parts
from replicoder.labels.graded import split


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> study_mod.Study:
    return graded_study(tmp_path_factory.mktemp("graded") / "study")


def _long(study: study_mod.Study, path: Path, shift: bool = False, skip: int = 0) -> Path:
    """The test gold as one row per document × label, names not codes; ``shift``: every
    intensity wrong; the first ``skip`` test documents left out."""
    test = load_parts(study, ["test"])["test"]
    rows = []
    names = {lab.code: lab.name.upper() for lab in study.codebook.labels}
    for doc, truth in list(zip(test.doc_ids, test.truth, strict=True))[skip:]:
        for value in sorted(truth):
            code, level = split(value)
            if shift:
                level = {"low": "medium", "medium": "high", "high": "low"}[str(level)]
            rows.append({"doc": doc, "dim": names[code], "level": level})
        if not truth:
            rows.append({"doc": doc, "dim": "", "level": ""})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


SPEC = ExternalSpec("doc", "dim", "level")


def test_external_predictions_scored_with_graded_metrics(study: study_mod.Study,
                                                         tmp_path: Path) -> None:
    files = {"perfect": _long(study, tmp_path / "a.csv"),
             "shifted": _long(study, tmp_path / "b.csv", shift=True),
             "partial": _long(study, tmp_path / "c.csv", skip=3)}
    result = evaluate_models(study, [], baseline="tfidf", external=files, external_spec=SPEC,
                             n_boot=50, train_rows=False)
    test = load_parts(study, ["test"])["test"]
    models = result["models"]
    perfect = models["perfect"]["parts"]["test"]
    assert perfect["intensity_accuracy"] == 1.0 and perfect["label_accuracy"] == 1.0
    assert perfect["n_documents"] == len(test.doc_ids)
    shifted = models["shifted"]["parts"]["test"]
    assert shifted["label_accuracy"] == 1.0 and shifted["jaccard"] == 1.0
    cells = sum(len(t) for t in test.truth)
    assert shifted["intensity_accuracy"] == pytest.approx(1 - cells / (3 * len(test.doc_ids)))
    assert shifted["jaccard_graded"] < 1.0
    partial = models["partial"]
    assert partial["missing"] == {"test": 3} and partial["kind"] == "external"
    missed = sum(len(t) for t in test.truth[:3])
    assert partial["parts"]["test"]["fn_rate"] == pytest.approx(missed / (3 * len(test.doc_ids)))
    assert partial["parts"]["test"]["fp_rate"] == 0.0
    # the baseline predicts at most one intensity per label
    assert "tfidf" in models and "intensity_accuracy" in models["tfidf"]["parts"]["test"]
    assert result["intensities"] == ["low", "medium", "high"]
    html = (Path(result["run_dir"]) / "report.html").read_text("utf-8")
    assert "Intensity accuracy (accI)" in html and "3 not in file" in html
    saved = json.loads((Path(result["run_dir"]) / "metrics.json").read_text("utf-8"))
    assert saved["models"]["perfect"]["parts"]["test"]["ci"]["intensity_accuracy"] == [1, 1]


def test_unknown_label_errors_or_is_dropped(study: study_mod.Study, tmp_path: Path) -> None:
    path = _long(study, tmp_path / "a.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[len(frame)] = {"doc": frame["doc"][0], "dim": "boredom", "level": "high"}
    frame.to_csv(path, index=False)
    with pytest.raises(ReplicoderError, match=f"row {len(frame)} .*'boredom'"):
        evaluate_models(study, [], baseline=None, external={"x": path}, external_spec=SPEC,
                        n_boot=10)
    result = evaluate_models(study, [], baseline=None, external={"x": path}, n_boot=10,
                             external_spec=ExternalSpec("doc", "dim", "level", True))
    assert result["models"]["x"]["dropped"] == {"unknown_label": 1}


def test_cli_predictions(study: study_mod.Study, tmp_path: Path) -> None:
    path = _long(study, tmp_path / "a.csv", skip=2)
    res = CliRunner().invoke(app, [
        "evaluate", "--predictions", f"mine={path}", "--pred-id-column", "doc",
        "--pred-label-column", "dim", "--pred-intensity-column", "level", "--baseline",
        "none", "--no-train-rows", "--n-boot", "20", "--study", str(study.root)],
        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "accI" in res.output and "2 of the test documents not in its file" \
        in " ".join(res.output.split())
    bad = CliRunner().invoke(app, ["evaluate", "--predictions", str(path), "--study",
                                   str(study.root)])
    assert isinstance(bad.exception, ReplicoderError) and "NAME=FILE" in str(bad.exception)


def test_tfidf_baseline_learns_intensities(study: study_mod.Study) -> None:
    from replicoder.models.tfidf import TfidfSvm

    parts = load_parts(study, ["train"])["train"]
    book = study.codebook
    model = TfidfSvm().fit(parts.texts, parts.truth, book.codes, multi_label=True,
                           intensities=book.intensities)
    sets, scores = model.predict(["ecstatic and bankrupt", "today we talk"])
    assert scores.shape == (2, 9) and model.codes == book.values
    assert "worry:high" in sets[0] and sets[1] == frozenset()
    assert len({split(v)[0] for v in sets[0]}) == len(sets[0])  # one intensity per label
