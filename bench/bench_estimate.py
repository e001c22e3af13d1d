"""Coverage, width and bias of topic-share intervals on the US Congress bills (issue 15).

The 4,419 bill titles (code 99 dropped) have a known topic each. In one run:
  - the classifier, TF-IDF + linear SVM (replicoder.baseline; cheap on 2 CPU cores), is
    trained on a random part (--train-share, default 0.4, seed 0) and classifies the rest,
    which is the "corpus" whose topic shares we estimate (truth: its gold shares);
  - 200 times (--reps) for each n in {100, 300} (--sizes), a simple random sample of n
    corpus documents is "verified" (its gold labels are revealed), and each topic's share is
    estimated by PPI++, classify-and-count and the verified sample alone
    (replicoder.shares.estimate_shares, the code `replicoder estimate` runs), overall, by
    chamber (HR/S) and by Congress;
  - reported per method: empirical coverage of the 95% intervals (minimum and mean over the
    topics with >= 2% prevalence in that group), mean interval width, bias (mean estimate
    minus truth, largest and mean absolute over topics), the topics below 0.93, and PPI's
    width as a ratio of the sample-only width (same samples).
This copy of the data holds the 107th Congress only, so "by Congress" is one group equal
to the corpus; it is computed through the same grouping code and reported all the same.
Writes bench/results/estimate.json. Usage: .venv/bin/python bench/bench_estimate.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from replicoder import run as manifest
from replicoder import sampling
from replicoder.baseline import TfidfSvm
from replicoder.codebook import load
from replicoder.shares import METHODS, Population, estimate_shares

RESULTS = Path(__file__).parent / "results"
BILLS = Path(__file__).resolve().parents[2] / "shared" / "data" / "us_congress_bills.csv.gz"
MIN_PREVALENCE = 0.02  # the target: coverage >= 0.93 for topics at least this common


def corpus(train_share: float, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray,
                                                   list[str], dict[str, Any]]:
    """The classified rest of the data: frame, gold (N, L), predicted (N, L), codes, info."""
    if not BILLS.is_file():
        sys.exit(f"{BILLS} is missing: this benchmark needs the US Congress bills sample "
                 "(USCongress of the R package RTextTools, see ../shared/data/README.md); "
                 "put it there as us_congress_bills.csv.gz")
    df = pd.read_csv(BILLS)
    df = df[df.major_topic != 99].reset_index(drop=True)
    train, rest = train_test_split(df, train_size=train_share, stratify=df.major_topic,
                                   random_state=seed)
    codes = load("cap").codes
    started = time.perf_counter()
    model = TfidfSvm(seed=seed).fit(list(train.text), [{str(c)} for c in train.major_topic],
                                    codes)
    sets, _ = model.predict(list(rest.text))
    fit_s = time.perf_counter() - started
    eye = {c: j for j, c in enumerate(codes)}
    gold = np.zeros((len(rest), len(codes)))
    gold[np.arange(len(rest)), [eye[str(c)] for c in rest.major_topic]] = 1.0
    pred = np.zeros_like(gold)
    for i, s in enumerate(sets):
        for c in s:
            pred[i, eye[c]] = 1.0
    accuracy = float((gold.argmax(1) == pred.argmax(1)).mean())
    info = {"classifier": model.params(), "train_documents": len(train),
            "corpus_documents": len(rest), "corpus_accuracy": accuracy,
            "fit_and_predict_seconds": fit_s}
    return rest.reset_index(drop=True), gold, pred, codes, info


def simulate(rest: pd.DataFrame, gold: np.ndarray, pred: np.ndarray, codes: list[str],
             sizes: list[int], reps: int) -> dict[str, Any]:
    ids = [str(i) for i in rest.id]
    scopes = {"overall": [()] * len(ids),
              "chamber": [(str(c),) for c in rest.chamber],
              "congress": [(str(c),) for c in rest.congress]}
    out: dict[str, Any] = {}
    for n in sizes:
        # (scope, group) -> method -> list over reps of (L,) arrays
        est: dict[tuple[str, tuple[str, ...]], dict[str, list[np.ndarray]]] = {}
        low: dict[tuple[str, tuple[str, ...]], dict[str, list[np.ndarray]]] = {}
        high: dict[tuple[str, tuple[str, ...]], dict[str, list[np.ndarray]]] = {}
        for rep in range(reps):
            drawn = sampling.draw(ids, n, rep)
            row = {d: i for i, d in enumerate(ids)}
            verified = {d: gold[row[d]] for d in drawn.doc_ids}
            for scope, groups in scopes.items():
                pop = Population(ids, pred, pred, [""] * len(ids), groups)
                shares = estimate_shares(codes, pop, verified)
                for s in shares.rows:
                    key = (scope, s.group)
                    j = codes.index(s.code)
                    for store, value in ((est, s.estimate), (low, s.low), (high, s.high)):
                        arr = store.setdefault(key, {}).setdefault(
                            s.method, [np.zeros(len(codes)) for _ in range(reps)])
                        arr[rep][j] = value
        table = []
        for (scope, group), by_method in est.items():
            mask = np.ones(len(ids), dtype=bool)
            if scope != "overall":
                col = "chamber" if scope == "chamber" else "congress"
                mask = rest[col].astype(str).to_numpy() == group[0]
            truth = gold[mask].mean(0)
            keep = truth >= MIN_PREVALENCE
            entry: dict[str, Any] = {"scope": scope, "group": "|".join(group) or "all",
                                     "documents": int(mask.sum()),
                                     "topics_at_least_2pct": int(keep.sum())}
            for method in by_method:
                e = np.stack(by_method[method])
                lo = np.stack(low[(scope, group)][method])
                hi = np.stack(high[(scope, group)][method])
                cover_all = ((lo <= truth) & (truth <= hi)).mean(0)
                cover = cover_all[keep]
                common = truth >= 0.05
                bias = (e.mean(0) - truth)[keep]
                entry[method] = {
                    "coverage_min": float(cover.min()), "coverage_mean": float(cover.mean()),
                    "coverage_min_topic": codes[int(np.flatnonzero(keep)[cover.argmin()])],
                    "coverage_min_5pct": float(cover_all[common].min()),
                    "below_0.93": [{"topic": codes[j], "prevalence": round(float(truth[j]), 4),
                                    "coverage": float(cover_all[j])}
                                   for j in np.flatnonzero(keep & (cover_all < 0.93))],
                    "width_mean": float((hi - lo).mean(0)[keep].mean()),
                    "bias_max_abs": float(np.abs(bias).max()),
                    "bias_mean_abs": float(np.abs(bias).mean()),
                    "rmse_mean": float(np.sqrt(((e - truth) ** 2).mean(0))[keep].mean()),
                }
            entry["ppi_width_over_sample_only"] = (entry["ppi"]["width_mean"]
                                                   / entry["sample-only"]["width_mean"])
            table.append(entry)
        out[str(n)] = table
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-share", type=float, default=0.4)
    parser.add_argument("--sizes", default="100,300")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "estimate.json")
    args = parser.parse_args()
    started = time.perf_counter()
    rest, gold, pred, codes, info = corpus(args.train_share, args.seed)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = simulate(rest, gold, pred, codes, sizes, args.reps)
    seconds = time.perf_counter() - started
    report = {"benchmark": "estimate", "level": 0.95, "reps": args.reps, "sizes": sizes,
              "train_share": args.train_share, "seed": args.seed, "methods": list(METHODS),
              "min_prevalence": MIN_PREVALENCE, **info, "seconds": seconds,
              "versions": manifest.versions(("numpy", "scikit-learn", "pandas")),
              "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"classifier accuracy on the {info['corpus_documents']} corpus documents: "
          f"{info['corpus_accuracy']:.3f} (trained on {info['train_documents']})")
    head = f"{'n':>4} {'scope':<16} {'method':<19} {'cov min':>7} {'min>=5%':>7} " \
           f"{'cov mean':>8} {'width':>6} {'|bias| max':>10} {'|bias| mean':>11}"
    print(head)
    for n, table in results.items():
        for entry in table:
            for method in METHODS:
                m = entry[method]
                print(f"{n:>4} {entry['scope'] + ' ' + entry['group']:<16} {method:<19} "
                      f"{m['coverage_min']:7.3f} {m['coverage_min_5pct']:7.3f} "
                      f"{m['coverage_mean']:8.3f} "
                      f"{m['width_mean']:6.3f} {m['bias_max_abs']:10.4f} "
                      f"{m['bias_mean_abs']:11.4f}")
            print(f"{'':>4} {'':<16} PPI width / sample-only width = "
                  f"{entry['ppi_width_over_sample_only']:.3f}")
    print(f"wrote {args.out} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
