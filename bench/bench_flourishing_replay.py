"""The whole flourishing replay (`replicoder demo --flourishing`) on the paper's full data:
10,000 tweets, 26,635 proposals with the coders' decisions, fine-tuning of the embedded model
on the verified training tweets, evaluation next to TF-IDF + SVM (the baseline, same run and
same test tweets) and the paper's own models, with the authors' figures beside ours.

Data: ../shared/data/flourishing/ beside the repository (or REPLICODER_FLOURISHING): the
folder flourishing/ of github.com/siacus/rethinking-scale (CC BY 4.0). Writes
bench/results/flourishing_replay.json. Usage:
  .venv/bin/python bench/bench_flourishing_replay.py [--epochs 3] [--base embedded]
      [--study DIR]   (keep the replay's study there, e.g. to look at the model later)
Recipe experiments: --set KEY=VALUE changes a TrainConfig setting of the replay's recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from data import flourishing_dir

from replicoder.datasets.flourishing import MODEL, recipe, replay
from replicoder.run import now

RESULTS = Path(__file__).parent / "results" / "flourishing_replay.json"
KEYS = ("label_accuracy", "intensity_accuracy", "fn_rate", "fp_rate", "jaccard",
        "jaccard_graded", "hamming_loss", "n_documents")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--base", default="embedded")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="change one TrainConfig setting of the recipe (value read as JSON)")
    ap.add_argument("--study", type=Path, default=None, help="keep the study here")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    changes = {k: json.loads(v) for k, _, v in (item.partition("=") for item in args.set)}
    config = dataclasses.replace(recipe(args.base, args.epochs), **changes)
    data = flourishing_dir("sample", "all-llms-codings")
    load_before = os.getloadavg()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = replay(data, args.study or Path(tmp) / "study", config, n_boot=1000)
    seconds = time.perf_counter() - start
    ev = result.evaluation
    models: dict[str, Any] = {}
    for name, entry in ev["models"].items():
        test = entry["parts"]["test"]
        models[name] = {k: test.get(k) for k in KEYS} | {
            "ci": {k: test["ci"][k] for k in KEYS if k in test.get("ci", {})},
            "missing": entry.get("missing", {}).get("test"),
            "paper": result.paper.get(name)}
    ours, tfidf = models[MODEL], models["tfidf"]
    out = {
        "created_at": now(), "data": str(data), "config": config.to_dict(),
        "documents": result.documents, "duplicate_ids": result.duplicate_ids,
        "proposals": result.proposals, "decisions": result.decisions,
        "acceptance": result.review["acceptance"],
        "accept_agreement": result.review["accept_agreement"],
        "verified": result.verified, "n_train": result.training["n_train"],
        "n_test": ev["documents"]["test"]["n"],
        "train_minutes": result.training["train_seconds"] / 60,
        "validation": {k: v for k, v in result.training.items()
                       if isinstance(v, int | float)},
        "models": models,
        "jaccard_vs_tfidf": ours["jaccard"] / tfidf["jaccard"] if tfidf["jaccard"] else None,
        "label_accuracy_vs_tfidf": ours["label_accuracy"] / tfidf["label_accuracy"],
        "seconds": seconds,
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "note": "Paper figures (summaryOld.csv) were scored by the authors against their "
                "verified.csv (not public) on all 10,000-tweet predictions they could parse; "
                "here every model is scored on the same held-out verified tweets of this "
                "replay's split, a tweet missing from a predictions file counting as no "
                "label.",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")
    for name, m in models.items():
        paper = m["paper"] or {}
        print(f"{name:24s} accD {m['label_accuracy']:.3f} accI {m['intensity_accuracy']:.3f} "
              f"jac {m['jaccard']:.3f} FN {m['fn_rate']:.3f} FP {m['fp_rate']:.3f}"
              + (f"  (paper accD {paper['label_accuracy']:.3f}, jac {paper['jaccard']:.3f})"
                 if paper else ""))
    print(f"train {out['train_minutes']:.1f} min on {out['n_train']} tweets; "
          f"total {seconds / 60:.1f} min; wrote {args.out}")


if __name__ == "__main__":
    main()
