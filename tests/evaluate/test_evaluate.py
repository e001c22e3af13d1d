"""evaluate_models on a real study (the shipped CAP sample) with real SQLite and files."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from replicoder import study as study_mod
from replicoder.cli.evaluate import results_table
from replicoder.datasets.bills import sample_study
from replicoder.errors import ReplicoderError
from replicoder.evaluate.compare import evaluate_models, load_parts
from replicoder.metrics.labelsets import evaluate
from replicoder.models.tfidf import TfidfSvm
from replicoder.splits import ensure_split, split_ids
from replicoder.store import Proposal


def _wrong(code: str) -> str:
    return "1" if code != "1" else "2"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> study_mod.Study:
    """The demo sample (1,000 CAP-coded bill titles) with three annotators' proposals.

    ``perfect`` proposes the gold labels; ``noisy`` is wrong on the first 20 test
    documents, unparsed on the next 10 and silent on the next 5; ``always3`` says 3;
    ``few`` answers only test documents 40-49: 8 right, 1 wrong, 1 unparsed.
    """
    st = sample_study(tmp_path_factory.mktemp("eval") / "study")
    parts = ensure_split(st)
    with st.store() as store:
        gold = store.gold()
        test = [d for d in store.doc_ids() if parts.get(d) == "test"]
        props = [Proposal(d, "perfect", gold[d], "ok", "", {}, "t") for d in gold]
        props += [Proposal(d, "always3", frozenset({"3"}), "ok", "", {}, "t") for d in gold]
        for i, d in enumerate(test[:35]):
            if i < 20:
                props.append(Proposal(d, "noisy", frozenset({_wrong(next(iter(gold[d])))}),
                                      "ok", "", {}, "t"))
            elif i < 30:
                props.append(Proposal(d, "noisy", frozenset(), "unparsed", "???", {}, "t"))
        props += [Proposal(d, "noisy", gold[d], "ok", "", {}, "t") for d in test[35:]]
        props += [Proposal(d, "few", gold[d], "ok", "", {}, "t") for d in test[40:48]]
        props.append(Proposal(test[48], "few", frozenset({_wrong(next(iter(gold[test[48]])))}),
                              "ok", "", {}, "t"))
        props.append(Proposal(test[49], "few", frozenset(), "unparsed", "???", {}, "t"))
        store.add_proposals(props)
    return st


def test_models_side_by_side_on_the_same_documents(study: study_mod.Study) -> None:
    r = evaluate_models(study, [], annotators=True, n_boot=200)
    assert list(r["models"]) == ["always3", "few", "noisy", "perfect", "crowd-majority",
                                 "crowd-union", "tfidf"]
    assert r["parts"] == ["train", "test"]
    test_ids = split_ids(study, "test")
    n = len(test_ids)
    assert r["documents"]["test"]["n"] == n == 200
    for name, entry in r["models"].items():
        if name not in ("few", "noisy"):
            assert entry["parts"]["test"]["n_documents"] == n
    perfect = r["models"]["perfect"]["parts"]
    assert perfect["test"]["subset_accuracy"] == 1.0 and perfect["train"]["jaccard"] == 1.0
    assert perfect["test"]["ci"]["subset_accuracy"] == (1.0, 1.0)
    noisy = r["models"]["noisy"]["parts"]["test"]
    # scored on the n - 5 documents it answered: 20 wrong, 10 unparsed (no label)
    assert noisy["n_documents"] == n - 5
    assert noisy["subset_accuracy"] == pytest.approx((n - 35) / (n - 5))
    assert noisy["hamming_loss"] == pytest.approx((20 * 2 + 10) / ((n - 5) * 21))
    assert "train" not in r["models"]["noisy"]["parts"]  # it answered no train document
    answers = r["models"]["noisy"]["answers"]["test"]
    assert (answers["ok"], answers["unparsed"], answers["missing"]) == (n - 15, 10, 5)
    with study.store() as store:
        gold = store.gold(test_ids)
    share3 = sum(gold[d] == {"3"} for d in test_ids) / n
    assert r["models"]["always3"]["parts"]["test"]["subset_accuracy"] == pytest.approx(share3)
    # the baseline is trained on the train part only, exactly as TfidfSvm would be
    train = load_parts(study, ["train"])["train"]
    test = load_parts(study, ["test"])["test"]
    sets, _ = TfidfSvm().fit(train.texts, train.truth, study.codebook.codes).predict(test.texts)
    expected = evaluate(test.truth, sets, study.codebook.codes)
    got = r["models"]["tfidf"]["parts"]["test"]
    assert got["subset_accuracy"] == pytest.approx(expected["subset_accuracy"])
    assert 0.4 < got["subset_accuracy"] < 0.95
    assert got["ci"]["f1_macro"][0] <= got["f1_macro"] <= got["ci"]["f1_macro"][1]
    # each model paired with the baseline on the documents it was scored on
    vs = perfect["test"]["vs_baseline"]
    assert vs["baseline"] == "tfidf" and vs["metric"] == "subset_accuracy"
    assert vs["difference"] == pytest.approx(1 - got["subset_accuracy"])
    assert 0 < vs["ci"][0] < vs["difference"] < vs["ci"][1] and vs["p_below_0"] == 0
    assert r["models"]["noisy"]["parts"]["test"]["vs_baseline"]["n_documents"] == n - 5
    assert "vs_baseline" not in got

    run = Path(r["run_dir"])
    assert json.loads((run / "metrics.json").read_text())["models"].keys() == r["models"].keys()
    rows = pq.read_table(run / "predictions.parquet").to_pylist()
    n_train = r["documents"]["train"]["n"]
    assert len(rows) == 5 * (n + n_train) + (n - 5) + 10
    by = {(x["model"], x["doc_id"]): x for x in rows if x["part"] == "test"}
    first = test_ids[0]  # noisy is wrong here, perfect right, always3 says 3
    g = sorted(gold[first])
    w = _wrong(g[0])
    assert by[("noisy", first)]["predicted"] == [w] and by[("noisy", first)]["gold"] == g
    assert by[("crowd-union", first)]["predicted"] == sorted({g[0], w, "3"})
    assert by[("crowd-majority", first)]["predicted"] == ([g[0]] if g[0] == "3" or w == "3"
                                                          else [])
    assert by[("crowd-majority", test_ids[-1])]["predicted"] == sorted(gold[test_ids[-1]])
    assert by[("tfidf", first)]["scores"] is not None and by[("noisy", first)]["scores"] is None
    assert len(by[("tfidf", first)]["scores"]) == 21

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["codebook_sha256"] == study.codebook.sha256
    assert manifest["documents"]["test"]["sha256"] == r["documents"]["test"]["sha256"]
    assert manifest["bootstrap"] == {"n_boot": 200, "seed": 0, "level": 0.95}
    assert manifest["models"]["tfidf"]["C"] == 0.5 and "scikit-learn" in manifest["versions"]
    assert manifest["models"]["noisy"]["answers"]["test"]["missing"] == 5
    assert {"report.html", "headline.png", "per_label_test.png", "per_label_train.png",
            "predictions.parquet"} <= set(manifest["files"])
    with study.store() as store:
        assert r["run_id"] in [x["run_id"] for x in store.list_runs("evaluate")]
    html = (run / "report.html").read_text()
    assert "crowd-majority" in html and '<img src="headline.png"' in html
    assert "Paired with the baseline (tfidf)" in html
    assert f"{vs['difference']:+.3f}" in html
    for png in ("headline.png", "per_label_test.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_inputs_same_numbers(study: study_mod.Study) -> None:
    a = evaluate_models(study, [], annotators=["noisy"], n_boot=100, train_rows=False)
    b = evaluate_models(study, [], annotators=["noisy"], n_boot=100, train_rows=False)
    assert a["run_id"] != b["run_id"]
    assert a["models"] == b["models"] and a["documents"] == b["documents"]
    assert list(a["models"]) == ["noisy", "tfidf"]  # one annotator: no crowd rows


def test_annotators_are_scored_on_the_documents_they_answered(study: study_mod.Study) -> None:
    """Issue 12.16: ``few`` answered 10 of 200 test documents, 8 right: 0.8, not 0.04."""
    r = evaluate_models(study, [], annotators=["few", "noisy"], n_boot=50, train_rows=False)
    n = r["documents"]["test"]["n"]
    few = r["models"]["few"]
    assert few["parts"]["test"]["n_documents"] == 10
    assert few["parts"]["test"]["subset_accuracy"] == pytest.approx(8 / 10)
    assert few["answers"]["test"] | {"settings": None} == {
        "ok": 9, "unparsed": 1, "missing": n - 10, "settings": None}
    assert r["models"]["crowd-majority"]["parts"]["test"]["n_documents"] == n - 5
    assert r["models"]["tfidf"]["parts"]["test"]["n_documents"] == n
    assert r["common_subset"] is None
    html = (Path(r["run_dir"]) / "report.html").read_text()
    assert "scored on the documents they answered" in html

    common = evaluate_models(study, [], annotators=["few", "noisy"], n_boot=50,
                             train_rows=False, common_subset=True)
    assert common["common_subset"] == {"annotators": ["few", "noisy"]}
    assert common["documents"]["test"]["n"] == 10
    assert {m["parts"]["test"]["n_documents"] for m in common["models"].values()} == {10}
    assert common["models"]["noisy"]["parts"]["test"]["subset_accuracy"] == 1.0
    with pytest.raises(ReplicoderError, match="no train document was answered by every"):
        evaluate_models(study, [], annotators=["few", "noisy"], n_boot=10, common_subset=True)
    with pytest.raises(ReplicoderError, match="name annotators with --annotators"):
        evaluate_models(study, [], n_boot=10, common_subset=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"models": ["nope"]}, "unknown model 'nope'"),
        ({"models": [], "annotators": ["ghost"]}, "unknown annotator(s) ghost"),
        ({"models": [], "baseline": "bert"}, "unknown baseline 'bert'"),
        ({"models": [], "split": "dev"}, "unknown split part 'dev'"),
        ({"models": [], "baseline": None}, "nothing to evaluate"),
        ({"models": ["a", "a"]}, "named twice"),
    ],
)
def test_bad_requests(study: study_mod.Study, kwargs: dict, message: str) -> None:
    models = kwargs.pop("models")
    with pytest.raises(ReplicoderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate_models(study, models, n_boot=10, **kwargs)


def _csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "topic"])
        w.writerows(rows)
    return path


def test_study_without_labels(tmp_path: Path) -> None:
    from replicoder import importer

    st = study_mod.init(tmp_path / "s", "cap")
    src = _csv(tmp_path / "d.csv", [(str(i), f"bill number {i} on farms", "4")
                                    for i in range(10)])
    importer.import_file(st, src, text="text", id="id")
    with pytest.raises(ReplicoderError, match="no document has labels"):
        evaluate_models(st, [], n_boot=10)
    with pytest.raises(ReplicoderError, match="no annotator has proposed"):
        evaluate_models(st, [], annotators=True, baseline=None, n_boot=10)


def test_split_without_test_documents(tmp_path: Path) -> None:
    from replicoder import importer

    st = study_mod.init(tmp_path / "s", "cap")
    src = _csv(tmp_path / "d.csv", [(str(i), f"bill number {i} on farms", "4" if i % 2 else "3")
                                    for i in range(10)])
    importer.import_file(st, src, text="text", id="id", labels="topic")
    with st.store() as store:  # a split made elsewhere that kept no test documents
        store.add_split({str(i): "train" for i in range(10)}, seed=0)
    with pytest.raises(ReplicoderError, match="the test part of the split has no labelled"):
        evaluate_models(st, [], n_boot=10)


def test_cli_prints_the_table_and_errors_without_traceback(study: study_mod.Study) -> None:
    cmd = [sys.executable, "-m", "replicoder", "evaluate", "--study", str(study.root),
           "--annotator", "noisy", "--no-train-rows", "--n-boot", "50"]
    wide = {**os.environ, "COLUMNS": "200"}
    ok = subprocess.run(cmd + ["--annotator", "few"], capture_output=True, text=True,
                        timeout=120, env=wide)
    assert ok.returncode == 0, ok.stderr
    assert "noisy" in ok.stdout and "tfidf" in ok.stdout and "report.html" in ok.stdout
    # columns: model, part, n, unparsed, accuracy (exact match), macro F1, vs tfidf
    header = next(line for line in ok.stdout.splitlines() if "model" in line)
    assert re.findall(r"[\w.()]+(?: F1)?", header)[:6] == [
        "model", "part", "n", "unparsed", "accuracy", "macro F1"]
    assert re.search(r"few\s+test\s+10\s+1\s+0\.800", ok.stdout), ok.stdout
    assert re.search(r"noisy\s+test\s+195\s+10\s", ok.stdout)
    common = subprocess.run(cmd + ["--annotator", "few", "--common-subset"],
                            capture_output=True, text=True, timeout=120, env=wide)
    assert common.returncode == 0, common.stderr
    assert re.search(r"tfidf\s+test\s+10\s", common.stdout), common.stdout
    bad = subprocess.run(cmd[:6] + ["missing-model"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert "unknown model 'missing-model'" in bad.stderr and "Traceback" not in bad.stderr


def test_multi_label_study(tmp_path: Path, bills: Path) -> None:
    """Pairs of real bill titles carry both topics; tables lead with exact-match accuracy
    and Jaccard (issue 12.18), label accuracy comes last."""
    import pandas as pd

    from replicoder import importer

    df = pd.read_csv(bills)
    df = df[df.major_topic != 99].sample(400, random_state=0).reset_index(drop=True)
    rows = []
    for i in range(0, 400, 2):
        if i % 4:
            rows.append((str(i), df.text[i], str(df.major_topic[i])))
        else:
            codes = sorted({str(df.major_topic[i]), str(df.major_topic[i + 1])})
            rows.append((str(i), f"{df.text[i]} {df.text[i + 1]}", ";".join(codes)))
    st = study_mod.init(tmp_path / "s", "cap", multi_label=True)
    importer.import_file(st, _csv(tmp_path / "m.csv", rows), text="text", id="id",
                         labels="topic")
    r = evaluate_models(st, [], n_boot=50)
    test = r["models"]["tfidf"]["parts"]["test"]
    assert r["multi_label"] and test["label_accuracy"] == 1 - test["hamming_loss"]
    assert test["label_accuracy"] > 0.9 and test["subset_accuracy"] < test["jaccard"]
    html = (Path(r["run_dir"]) / "report.html").read_text()
    assert "multi-label" in html
    heads = [html.index(f"<th>{t}</th>") for t in ("Accuracy (exact match)", "Jaccard index",
                                                   "Label accuracy")]
    assert heads == sorted(heads)
    columns = [str(c.header) for c in results_table(r).columns]  # no annotator: no unparsed
    assert columns == ["model", "part", "n", "accuracy", "Jaccard", "macro F1"]
