"""Long documents: the seed paper's European Parliament questions, cross-validated.

The 193 EP written questions with a verified CAP major topic (../shared/data/ep_questions/,
CC BY 4.0; median 163 words) are cut into ``--folds`` stratified folds. For each fold, the
other folds train (15% of them held out for validation and early stopping) and the fold is
the test part; every question is tested once. Each ``--run`` (a label and TrainConfig
settings, e.g. ``trunc64:max_length=64``) trains the embedded model on every fold; TF-IDF +
SVM (``replicoder evaluate``'s baseline, fit on the same training documents) runs beside it.
Recorded: accuracy over all questions (out of fold) with paired bootstrap differences from
the first run and from TF-IDF, per-fold accuracy, training minutes and classify time per
document; and each run's accuracy on the paper's 48 test questions, beside its fine-tuned
LLaMA-2-7B (0.729). Writes bench/results/long_ep.json (or ``--out``). Usage:

    nice .venv/bin/python bench/bench_long.py --folds 3 --workers 2 \
        --run 'trunc64:max_length=64' --run 'chunk64:max_length=64;long="chunk"'

--workers 2 trains two (fold, run) jobs at once, one torch thread each: on two cores that
is more steps per second than one job on two threads (the per-document times are then of
one thread, with the other job running).

Each file keeps every question's correctness per run (``per_document``), so runs split over
several sessions join into one cross-validated comparison: ``--fold 1 --fold 2`` trains
only those folds, and ``--merge OLD.json`` takes the folds an earlier file holds (same run
labels and ``--seed``) as done.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_train import parse_run
from sklearn.model_selection import StratifiedKFold

from replicoder import atomic, importer
from replicoder import study as study_mod
from replicoder.metrics.paired import difference
from replicoder.models import load_trained
from replicoder.models.tfidf import TfidfSvm
from replicoder.run import PACKAGES, versions
from replicoder.train import TrainConfig, train

RESULTS = Path(__file__).parent / "results"
EP = Path(os.environ.get("REPLICODER_EP", Path(__file__).resolve().parents[2] / "shared" /
                        "data" / "ep_questions" / "ep_questions.csv.gz"))
PAPER_L2_7B = 0.729  # the paper's fine-tuned LLaMA-2-7B on its 48 test questions


def folds(df: pd.DataFrame, k: int, seed: int) -> list[dict[str, str]]:
    """Per fold: doc id -> train / validation / test."""
    out = []
    cv = StratifiedKFold(k, shuffle=True, random_state=seed)
    rng = np.random.default_rng(seed)
    for rest, test in cv.split(df, df.major_topic):
        val = set(rng.choice(rest, size=max(2, round(0.15 * len(rest))), replace=False))
        parts = {str(df.id.iloc[i]): "test" for i in test}
        parts.update({str(df.id.iloc[i]): "validation" if i in val else "train" for i in rest})
        out.append(parts)
    return out


def make_study(root: Path, df: pd.DataFrame, parts: dict[str, str]) -> study_mod.Study:
    st = study_mod.init(root, "cap")
    csv = root / "docs.csv"
    df[["id", "text", "major_topic"]].to_csv(csv, index=False)
    importer.import_file(st, csv, text="text", id="id", labels="major_topic")
    with st.store() as store:
        store.add_split(parts, 0, (0.33, 0.1))
    return st


def write(args: argparse.Namespace, df: pd.DataFrame, runs: list[tuple[str, dict[str, Any]]],
          correct: dict[str, dict[str, float]], detail: dict[str, Any], ids: list[str],
          folds_done: int) -> None:
    """Write the results over the folds done so far (after each fold: a partial file if
    the run is stopped)."""
    tested = set(ids)
    paper = [d for d in df[df.paper_split == "test"].id if d in tested]
    paper_truth = df.set_index("id").loc[paper]
    l2 = float((paper_truth.paper_l2_7b_ft.astype(str).str.replace(r"\.0$", "", regex=True)
                == paper_truth.major_topic).mean())
    first = runs[0][0]

    def vec(label: str, which: list[str]) -> np.ndarray:
        return np.array([correct[label][d] for d in which])

    summary: dict[str, Any] = {}
    have = [label for label in [*detail, "tfidf"] if all(d in correct[label] for d in ids)]
    for label in have:
        row: dict[str, Any] = {"accuracy": float(vec(label, ids).mean()),
                               "paper_test_accuracy": float(vec(label, paper).mean())}
        if label != "tfidf":
            row.update(detail[label])
            row["config"] = dict(runs[[r[0] for r in runs].index(label)][1])
            row["seconds_per_document"] = float(np.mean(
                [f["seconds_per_document"] for f in row["folds"]]))
            row["train_minutes"] = float(sum(f["train_minutes"] for f in row["folds"]))
            row["vs_tfidf"] = difference(vec(label, ids), vec("tfidf", ids),
                                         metric="subset_accuracy", seed=args.seed)
            if label != first and first in have:
                row[f"vs_{first}"] = difference(vec(label, ids), vec(first, ids),
                                                metric="subset_accuracy", seed=args.seed)
        summary[label] = row
    out = {"benchmark": "long_ep", "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
           "args": {k: str(v) for k, v in vars(args).items()}, "n_documents": len(ids),
           "n_paper_test": len(paper), "paper_l2_7b_test_accuracy": l2,
           "paper_l2_7b_stated": PAPER_L2_7B, "folds": args.folds, "folds_done": folds_done,
           "first": first, "runs": summary,
           "per_document": {label: {d: correct[label][d] for d in ids if d in correct[label]}
                            for label in [*detail, "tfidf"]},
           "complete": set(have) == {*detail, "tfidf"},
           "versions": versions(PACKAGES)}
    atomic.write_text(args.out, json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: {"accuracy": v["accuracy"]} for k, v in summary.items()}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-folds", type=int, default=None,
                        help="stop after this many folds (a reduced run; the file says so)")
    parser.add_argument("--run", action="append", default=[],
                        help="label:key=json;key=json (TrainConfig settings)")
    parser.add_argument("--out", type=Path, default=RESULTS / "long_ep.json")
    parser.add_argument("--workers", type=int, default=1,
                        help="train this many (fold, run) jobs at once, each in its own "
                             "process with cpu_count / workers torch threads")
    parser.add_argument("--fold", type=int, action="append", default=[],
                        help="train only this fold (repeat for several; default: all)")
    parser.add_argument("--merge", type=Path, action="append", default=[],
                        help="an earlier results file whose folds count as done")
    args = parser.parse_args()
    runs = [parse_run(r) for r in args.run] or [("trunc64", {"max_length": 64})]
    df = pd.read_csv(EP)
    df = df[df.major_topic.notna()].reset_index(drop=True)
    df["id"] = df.id.astype(str)
    df["major_topic"] = df.major_topic.astype(int).astype(str)
    plan = folds(df, args.folds, args.seed)[:args.max_folds]
    correct: dict[str, dict[str, float]] = {label: {} for label, _ in runs}
    correct["tfidf"] = {}
    detail: dict[str, Any] = {label: {"folds": []} for label, _ in runs}
    for parts in plan:
        train_df = df[df.id.map(parts) == "train"]
        test_df = df[df.id.map(parts) == "test"]
        tfidf = TfidfSvm(seed=args.seed).fit(
            train_df.text.tolist(), [frozenset([t]) for t in train_df.major_topic],
            sorted(set(df.major_topic)), multi_label=False)
        sets, _ = tfidf.predict(test_df.text.tolist())
        for doc, guess, truth in zip(test_df.id, sets, test_df.major_topic, strict=True):
            correct["tfidf"][doc] = float(guess == frozenset([truth]))
    for old in args.merge:
        merge(json.loads(old.read_text()), args, correct, detail)
    todo = args.fold or range(len(plan))
    jobs = [(k, label, changes) for k in todo for label, changes in runs
            if k not in {f["fold"] for f in detail[label]["folds"]}]
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp, \
            ProcessPoolExecutor(args.workers, get_context("spawn")) as pool:
        pending = [pool.submit(job, Path(tmp) / f"fold{k}-{label}", df, plan[k], k, label,
                               changes, args.seed, threads) for k, label, changes in jobs]
        for future in as_completed(pending):
            label, row, got = future.result()
            correct[label].update(got)
            detail[label]["folds"] = sorted([*detail[label]["folds"], row],
                                            key=lambda r: r["fold"])
            print(f"fold {row['fold']} {label}: {row['accuracy']:.3f} in "
                  f"{row['train_minutes']:.1f} min", flush=True)
            done = sorted({f["fold"] for f in detail[label]["folds"]})
            write(args, df, runs, correct, detail,
                  [d for k in done for d, part in plan[k].items() if part == "test"], len(done))
    done = sorted(set.intersection(*({f["fold"] for f in detail[label]["folds"]}
                                     for label in detail)))
    ids = [d for k in done for d, part in plan[k].items() if part == "test"]
    write(args, df, runs, correct, detail, ids, len(done))


def merge(old: dict[str, Any], args: argparse.Namespace, correct: dict[str, dict[str, float]],
          detail: dict[str, Any]) -> None:
    """Take the folds an earlier results file holds (with its per-question correctness)."""
    if old["args"]["seed"] != str(args.seed) or old["folds"] != args.folds:
        raise SystemExit("--merge: the earlier file has another --seed or --folds")
    for label in detail:
        if label in old["runs"] and label in old.get("per_document", {}):
            correct[label].update(old["per_document"][label])
            detail[label]["folds"] = sorted([*detail[label]["folds"],
                                             *old["runs"][label]["folds"]],
                                            key=lambda r: r["fold"])


def job(root: Path, df: pd.DataFrame, parts: dict[str, str], k: int, label: str,
        changes: dict[str, Any], seed: int, threads: int
        ) -> tuple[str, dict[str, Any], dict[str, float]]:
    """Train run ``label`` on fold ``k`` (in a worker process with ``threads`` torch
    threads) and score its test part: (label, the fold's row, doc id -> correct)."""
    import torch

    torch.set_num_threads(threads)
    st = make_study(root, df, parts)
    test_df = df[df.id.map(parts) == "test"]
    config = TrainConfig(**{"base": "embedded", "seed": seed, "auto_epochs": True, **changes})
    load = os.getloadavg()
    started = time.perf_counter()
    result = train(st, label, config)
    minutes = (time.perf_counter() - started) / 60
    model = load_trained(st, label)
    t = time.perf_counter()
    pred = model.predict(test_df.text.tolist(), test_df.id.tolist())
    per_doc = (time.perf_counter() - t) / len(test_df)
    got = {doc: float(p == frozenset([truth]))
           for doc, p, truth in zip(test_df.id, pred.labels, test_df.major_topic, strict=True)}
    cfg = result.manifest["config"]
    row = {"fold": k, "n_train": result.manifest["data"]["n_train"], "n_test": len(test_df),
           "accuracy": float(np.mean(list(got.values()))), "train_minutes": minutes,
           "seconds_per_document": per_doc, "lengths": result.lengths, "lr": cfg["lr"],
           "epochs": cfg["epochs"], "steps": result.metrics["steps"],
           "best_step": result.metrics["best_step"], "torch_threads": threads,
           "cut_test": int(sum((pred.provenance or {}).get("cut", []))),
           "load_before": list(load), "notes": result.notes}
    return label, row, got


if __name__ == "__main__":
    main()
