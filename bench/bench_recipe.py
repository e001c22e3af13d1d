"""`replicoder train NAME --recipe best` on the US bills, timed as the one command a user runs.

The bills' reference split (bench_train.py: code 99 dropped, stratified 80/20 with seed 0,
300 of the 80% for validation) is imported into a fresh study; the command runs in a
subprocess, as a user would run it, and its wall time is the time of both of its runs (the
draft NAME-draft, then the refit). Then, on the never-seen test part: the test accuracy of
the refit (NAME), of the draft (which is what plain `replicoder train NAME` gives: the
same settings), and of TF-IDF + SVM fit on training + validation in the same run (the
baseline), with paired bootstrap intervals. Targets (issue 31): >= 0.85 in <= 30 minutes on
two cores. The same host's speed differs from day to day (18% on one day): a short
calibration, 20 training steps of the default settings (``bench_train.step_speed``), is
timed before and after the command, and each run's own seconds per optimizer step are
kept, so that minutes from different days compare. Writes bench/results/recipe_best.json
(or --out). Usage:

    .venv/bin/python bench/bench_recipe.py [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_train import reference_split, step_speed
from data import bills_path

from replicoder import atomic, importer
from replicoder import study as study_mod
from replicoder.metrics.labelsets import headline
from replicoder.metrics.paired import difference, per_document
from replicoder.models import load_trained
from replicoder.models.folder import ModelFolder
from replicoder.models.tfidf import TfidfSvm
from replicoder.run import PACKAGES, versions
from replicoder.train.config import TrainConfig
from replicoder.train.recipe import folder_metrics

RESULTS = Path(__file__).parent / "results"
TARGET_ACCURACY, TARGET_MINUTES = 0.85, 30.0


def paired(truth: list[frozenset[str]], a: list[frozenset[str]], b: list[frozenset[str]],
           codes: list[str]) -> dict[str, object]:
    """Test accuracy of ``a`` minus ``b``, with a paired bootstrap interval."""
    return difference(per_document(truth, a, codes, False),
                      per_document(truth, b, codes, False), metric="subset_accuracy")


def host_speed(df: Any, parts: dict[str, str], codes: list[str]) -> float:
    """Training docs/s of the default settings over 20 steps on the training titles."""
    train = df[df.id.astype(str).map(parts) == "train"]
    speed = step_speed([("default", TrainConfig())], train.text.tolist(), codes, 20, rounds=1)
    return float(speed["default"]["docs_per_s"])


def per_step(st: study_mod.Study, name: str) -> dict[str, Any]:
    """A trained model's loop seconds, optimizer steps and seconds per step."""
    metrics = folder_metrics(ModelFolder.of(st.models_dir, name))
    seconds, steps = float(metrics["train_seconds"]), int(metrics["steps"])
    return {"train_seconds": seconds, "steps": steps, "seconds_per_step": seconds / steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="bills")
    ap.add_argument("--out", type=Path, default=RESULTS / "recipe_best.json")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-recipe-")) / "study"
    df, parts = reference_split(300)
    st = study_mod.init(root)
    importer.import_file(st, bills_path(), text="text", id="id", labels="major_topic",
                         unknown_labels="drop")
    with st.store() as store:
        store.add_split(parts, 0)
    command = [str(Path(sys.executable).with_name("replicoder")), "train", args.name,
               "--recipe", "best", "--seed", str(args.seed), "--study", str(root)]
    codes = st.codebook.codes
    speed_before = host_speed(df, parts, codes)
    load_before = os.getloadavg()
    t = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    minutes = (time.perf_counter() - t) / 60
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    load_after = os.getloadavg()
    speed_after = host_speed(df, parts, codes)

    test = df[df.id.astype(str).map(parts) == "test"]
    texts, ids = test.text.tolist(), test.id.astype(str).tolist()
    truth = [frozenset([str(t)]) for t in test.major_topic]
    preds: dict[str, list[frozenset[str]]] = {}
    for label, name in (("recipe_best", args.name), ("default", f"{args.name}-draft")):
        preds[label] = load_trained(st, name).predict(texts, ids).labels
    fit = df[df.id.astype(str).map(parts) != "test"]
    preds["tfidf"] = TfidfSvm().fit(fit.text.tolist(), [{str(t)} for t in fit.major_topic],
                                    codes, multi_label=False).predict(texts)[0]
    scores = {k: headline(truth, p, codes) for k, p in preds.items()}
    manifest = ModelFolder.of(st.models_dir, args.name).manifest()
    accuracy = float(scores["recipe_best"]["subset_accuracy"] or 0.0)
    out: dict[str, Any] = {
        "benchmark": "recipe_best", "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": {k: str(v) for k, v in vars(args).items()},
        "command": " ".join(["replicoder", *command[1:-2]]),
        "data": bills_path().name, "n_test": len(ids),
        "n_train": manifest["data"]["n_train"], "cpu_count": os.cpu_count(),
        "minutes": minutes, "load_before": load_before, "load_after": load_after,
        "host_docs_per_s": {"before": speed_before, "after": speed_after},
        "runs": {name: per_step(st, name) for name in (f"{args.name}-draft", args.name)},
        "accuracy": accuracy, "scores": scores, "recipe": manifest.get("recipe"),
        "vs_default": paired(truth, preds["recipe_best"], preds["default"], codes),
        "vs_tfidf": paired(truth, preds["recipe_best"], preds["tfidf"], codes),
        "targets": {"accuracy": TARGET_ACCURACY, "minutes": TARGET_MINUTES,
                    "met": accuracy >= TARGET_ACCURACY and minutes <= TARGET_MINUTES},
        "output": done.stdout[-4000:], "versions": versions(PACKAGES)}
    atomic.write_text(args.out, json.dumps(out, indent=1) + "\n")
    print(f"recipe best: {accuracy:.3f} test accuracy in {minutes:.1f} min (default "
          f"{scores['default']['subset_accuracy']:.3f}, TF-IDF "
          f"{scores['tfidf']['subset_accuracy']:.3f}); wrote {args.out}")


if __name__ == "__main__":
    main()
