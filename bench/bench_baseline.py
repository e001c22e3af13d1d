"""The TF-IDF + linear SVM baseline on the reference split, and the cost of `evaluate`.

Measures, in one run on the same machine:
  - the reference split of ../shared/data/README.md (drop code 99, stratified 80/20 on
    the integer codes, seed 0; 3,535 train / 884 test): accuracy and macro-F1 of
    replicoder.models.tfidf.TfidfSvm scored with replicoder.metrics, with 95% bootstrap
    intervals, against the README's 0.800 / 0.762;
  - logistic regression (C=10) on the same TF-IDF features in the same run (README:
    0.781 / 0.741), and the SVM's accuracy as a ratio to it;
  - fit seconds and predict docs/s of the baseline;
  - `evaluate_models` on a whole study of the 4,419 titles (baseline only, train and
    test rows, 1,000 bootstrap resamples, report and figures): wall seconds.
Writes bench/results/baseline.json. Usage: .venv/bin/python bench/bench_baseline.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from data import bills_path
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from replicoder import importer
from replicoder import run as manifest
from replicoder import study as study_mod
from replicoder.evaluate.compare import evaluate_models
from replicoder.labels.codebook import load
from replicoder.metrics.labelsets import bootstrap_ci, evaluate
from replicoder.models.tfidf import TfidfSvm

RESULTS = Path(__file__).parent / "results"
REFERENCE = {"accuracy": 0.800, "f1_macro": 0.762, "logreg_accuracy": 0.781,
             "logreg_f1_macro": 0.741, "n_train": 3535, "n_test": 884}


def reference_split() -> dict[str, Any]:
    df = pd.read_csv(bills_path())
    df = df[df.major_topic != 99]
    train, test = train_test_split(df, test_size=0.2, stratify=df.major_topic, random_state=0)
    codes = load("cap").codes
    truth = [{str(c)} for c in test.major_topic]
    started = time.perf_counter()
    model = TfidfSvm().fit(list(train.text), [{str(c)} for c in train.major_topic], codes)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    sets, _ = model.predict(list(test.text))
    predict_s = time.perf_counter() - started
    m = evaluate(truth, sets, codes)
    ci = bootstrap_ci(truth, sets, codes, n_boot=1000, seed=0)

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    lr = LogisticRegression(C=10, max_iter=2000).fit(vec.fit_transform(train.text),
                                                     train.major_topic.astype(str))
    lr_sets = [{c} for c in lr.predict(vec.transform(test.text))]
    lm = evaluate(truth, lr_sets, codes)
    return {
        "n_train": len(train), "n_test": len(test),
        "tfidf_svm": {"accuracy": m["subset_accuracy"], "f1_macro": m["f1_macro"],
                      "accuracy_ci95": ci["subset_accuracy"], "f1_macro_ci95": ci["f1_macro"],
                      "fit_seconds": fit_s, "predict_docs_per_s": len(test) / predict_s,
                      "params": model.params()},
        "logreg_C10": {"accuracy": lm["subset_accuracy"], "f1_macro": lm["f1_macro"]},
        "svm_vs_logreg_accuracy_ratio": m["subset_accuracy"] / lm["subset_accuracy"],
        "matches_reference": abs(m["subset_accuracy"] - REFERENCE["accuracy"]) < 0.001
        and abs(m["f1_macro"] - REFERENCE["f1_macro"]) < 0.001,
    }


def evaluate_cost() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        st = study_mod.init(Path(tmp) / "study", "cap")
        importer.import_file(st, bills_path(), text="text", id="id", labels="major_topic",
                             unknown_labels="drop")
        started = time.perf_counter()
        r = evaluate_models(st, [], n_boot=1000)
        seconds = time.perf_counter() - started
        test = r["models"]["tfidf"]["parts"]["test"]
        return {"seconds": seconds, "documents": {p: d["n"] for p, d in r["documents"].items()},
                "study_split_test_accuracy": test["subset_accuracy"],
                "study_split_test_f1_macro": test["f1_macro"],
                "files": r["figures"] + ["report.html", "metrics.json", "predictions.parquet"]}


def main() -> None:
    result = {"benchmark": "baseline", "created_at": manifest.now(), "reference": REFERENCE,
              "reference_split": reference_split(), "evaluate_study": evaluate_cost(),
              "versions": manifest.versions()}
    RESULTS.mkdir(exist_ok=True)
    manifest.write_json(RESULTS / "baseline.json", result)
    print(json.dumps({k: result[k] for k in ("reference_split", "evaluate_study")}, indent=2,
                     default=str))


if __name__ == "__main__":
    main()
