"""Coverage, width and bias of topic-share intervals on the US Congress bills (issue 15).

The 4,419 bill titles (code 99 dropped) have a known topic each. In one run:
  - the classifier, TF-IDF + linear SVM (replicoder.models.tfidf; cheap on 2 CPU cores), is
    trained on a random part (--train-share, default 0.4, seed 0) and classifies the rest,
    which is the "corpus" whose topic shares we estimate (truth: its gold shares);
  - 200 times (--reps) for each n in {100, 300} (--sizes), a simple random sample of n
    corpus documents is "verified" (its gold labels are revealed), and each topic's share is
    estimated by PPI (stratified on the predicted label, Wilson + MOVER intervals),
    classify-and-count and the verified sample alone (Wilson) through
    replicoder.estimate.shares.estimate_shares, the code `replicoder estimate` runs, overall, by
    chamber (HR/S) and by Congress; on the same samples, the rejected alternatives
    (ALTERNATIVES: PPI++ and PPI with CLT intervals, stratified PPI with a CLT interval, a
    percentile bootstrap of PPI, the sample share with a Wald interval) for comparison;
  - reported per method: empirical coverage of the 95% intervals (minimum and mean over the
    topics with >= 2% prevalence in that group), mean interval width, bias (mean estimate
    minus truth, largest and mean absolute over topics), the topics below 0.93, and PPI's
    width as a ratio of the sample-only width (same samples). With 200 samples a coverage
    of 0.95 is measured to +-0.015 (one standard error).
--predictions FILE takes the corpus's predicted labels from a `replicoder classify` output
(columns id, labels) instead, e.g. from the fine-tuned model (train it on bills that are
not in FILE); the corpus is then the bills in FILE.
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
from replicoder.estimate.ppi import (
    MeanEstimate,
    classical_mean,
    poststratify,
    ppi_mean,
    wilson,
    z_value,
)
from replicoder.estimate.shares import METHODS, Population, estimate_shares
from replicoder.hashing import input_sha256
from replicoder.io.tables import read_table
from replicoder.labels.codebook import load
from replicoder.models.tfidf import TfidfSvm
from replicoder.review import design as sampling

RESULTS = Path(__file__).parent / "results"
BILLS = Path(__file__).resolve().parents[2] / "shared" / "data" / "us_congress_bills.csv.gz"
MIN_PREVALENCE = 0.02  # the target: coverage >= 0.93 for topics at least this common
LEVEL = 0.95
BOOTSTRAPS = 500


def _bills() -> pd.DataFrame:
    if not BILLS.is_file():
        sys.exit(f"{BILLS} is missing: this benchmark needs the US Congress bills sample "
                 "(USCongress of the R package RTextTools, see ../shared/data/README.md); "
                 "put it there as us_congress_bills.csv.gz")
    df = pd.read_csv(BILLS)
    return df[df.major_topic != 99].reset_index(drop=True)


def _one_hot(rows: list[set[str]], codes: list[str]) -> np.ndarray:
    eye = {c: j for j, c in enumerate(codes)}
    out = np.zeros((len(rows), len(codes)))
    for i, labels in enumerate(rows):
        for c in labels:
            out[i, eye[c]] = 1.0
    return out


def corpus(train_share: float, seed: int, predictions: Path | None = None
           ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[str], dict[str, Any]]:
    """The classified rest of the data: frame, gold (N, L), predicted (N, L), codes, info."""
    df = _bills()
    codes = load("cap").codes
    started = time.perf_counter()
    if predictions is not None:
        classified = read_table(predictions, "id")
        rest = df.set_index(df.id.astype(str)).loc[classified["id"].astype(str)]
        sets = [{c.strip() for c in str(v).split(";") if c.strip()}
                for v in classified["labels"].fillna("")]
        info: dict[str, Any] = {"classifier": {"predictions": str(predictions),
                                               "sha256": input_sha256(predictions)},
                                "train_documents": len(df) - len(rest)}
    else:
        train, rest = train_test_split(df, train_size=train_share, stratify=df.major_topic,
                                       random_state=seed)
        model = TfidfSvm(seed=seed).fit(list(train.text),
                                        [{str(c)} for c in train.major_topic], codes)
        sets = model.predict(list(rest.text))[0]
        info = {"classifier": model.params(), "train_documents": len(train)}
    gold = _one_hot([{str(c)} for c in rest.major_topic], codes)
    pred = _one_hot(sets, codes)
    accuracy = float((gold * pred).sum(1).clip(0, 1).mean())
    info.update({"corpus_documents": len(rest), "corpus_accuracy": accuracy,
                 "fit_and_predict_seconds": time.perf_counter() - started})
    return rest.reset_index(drop=True), gold, pred, codes, info


Intervals = tuple[np.ndarray, np.ndarray, np.ndarray]  # estimate, low, high; each (L,)


def _normal(e: MeanEstimate) -> Intervals:
    low, high = e.interval(LEVEL)
    return e.estimate, low, high


def alternatives(y: np.ndarray, yhat: np.ndarray, yhat_all: np.ndarray,
                 rng: np.random.Generator) -> dict[str, Intervals]:
    """The rejected intervals, on one group's verified sample (rows of y, yhat)."""
    z = z_value(LEVEL)
    weights, k, m = poststratify(y, yhat, yhat_all)
    p = wilson(k, m, z).estimate  # 0.5 where a stratum is empty, as in "ppi"
    strat = (weights * p).sum(0)
    strat_se = np.sqrt((weights**2 * p * (1 - p) / np.maximum(m, 1)).sum(0))
    picks = rng.integers(0, len(y), size=(BOOTSTRAPS, len(y)))
    plain = yhat_all.mean(0) + (y - yhat)[picks].mean(1)
    tail = (1 - LEVEL) / 2
    return {
        "ppi++ (CLT)": _normal(ppi_mean(y, yhat, yhat_all)),
        "ppi lam=1 (CLT)": _normal(ppi_mean(y, yhat, yhat_all, 1.0)),
        "stratified ppi (CLT)": (strat, strat - z * strat_se, strat + z * strat_se),
        "ppi lam=1 (bootstrap percentile)": (
            yhat_all.mean(0) + (y - yhat).mean(0), np.quantile(plain, tail, axis=0),
            np.quantile(plain, 1 - tail, axis=0)),
        "sample-only (Wald)": _normal(classical_mean(y)),
    }


def _summary(codes: list[str], truth: np.ndarray, keep: np.ndarray, e: np.ndarray,
             lo: np.ndarray, hi: np.ndarray) -> dict[str, Any]:
    cover_all = ((np.clip(lo, 0, 1) <= truth) & (truth <= np.clip(hi, 0, 1))).mean(0)
    cover = cover_all[keep]
    bias = (e.mean(0) - truth)[keep]
    return {
        "coverage_min": float(cover.min()), "coverage_mean": float(cover.mean()),
        "coverage_min_topic": codes[int(np.flatnonzero(keep)[cover.argmin()])],
        "coverage_min_5pct": float(cover_all[truth >= 0.05].min()),
        "below_0.93": [{"topic": codes[j], "prevalence": round(float(truth[j]), 4),
                        "coverage": float(cover_all[j])}
                       for j in np.flatnonzero(keep & (cover_all < 0.93))],
        "width_mean": float((np.clip(hi, 0, 1) - np.clip(lo, 0, 1)).mean(0)[keep].mean()),
        "bias_max_abs": float(np.abs(bias).max()),
        "bias_mean_abs": float(np.abs(bias).mean()),
        "rmse_mean": float(np.sqrt(((e - truth) ** 2).mean(0))[keep].mean()),
    }


def simulate(rest: pd.DataFrame, gold: np.ndarray, pred: np.ndarray, codes: list[str],
             sizes: list[int], reps: int) -> dict[str, Any]:
    ids = [str(i) for i in rest.id]
    row = {d: i for i, d in enumerate(ids)}
    scopes = {"overall": [()] * len(ids),
              "chamber": [(str(c),) for c in rest.chamber],
              "congress": [(str(c),) for c in rest.congress]}
    masks = {(scope, key): np.asarray([g == key for g in groups])
             for scope, groups in scopes.items() for key in sorted(set(groups))}
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for n in sizes:
        # (scope, group) -> method -> (estimate, low, high) arrays of (reps, L)
        runs: dict[tuple[str, tuple[str, ...]], dict[str, np.ndarray]] = {k: {} for k in masks}
        for rep in range(reps):
            drawn = np.asarray([row[d] for d in sampling.draw(ids, n, rep).doc_ids])
            verified = {ids[i]: gold[i] for i in drawn}
            for scope, groups in scopes.items():
                pop = Population(ids, pred, pred, [""] * len(ids), groups)
                for s in estimate_shares(codes, pop, verified).rows:
                    cube = runs[(scope, s.group)].setdefault(
                        s.method, np.zeros((3, reps, len(codes))))
                    cube[:, rep, codes.index(s.code)] = (s.estimate, s.low, s.high)
            for key, mask in masks.items():
                sample = drawn[mask[drawn]]
                for name, found in alternatives(gold[sample], pred[sample], pred[mask],
                                                rng).items():
                    runs[key].setdefault(name, np.zeros((3, reps, len(codes))))[:, rep] = found
        table = []
        for (scope, group), by_method in runs.items():
            truth = gold[masks[(scope, group)]].mean(0)
            keep = truth >= MIN_PREVALENCE
            entry: dict[str, Any] = {"scope": scope, "group": "|".join(group) or "all",
                                     "documents": int(masks[(scope, group)].sum()),
                                     "topics_at_least_2pct": int(keep.sum())}
            for method in METHODS:
                entry[method] = _summary(codes, truth, keep, *by_method[method])
            entry["ppi_width_over_sample_only"] = (entry["ppi"]["width_mean"]
                                                   / entry["sample-only"]["width_mean"])
            entry["rejected"] = {name: _summary(codes, truth, keep, *by_method[name])
                                 for name in by_method if name not in METHODS}
            entry["ppi_width_over_sample_only_wald"] = (
                entry["ppi"]["width_mean"] / entry["rejected"]["sample-only (Wald)"]["width_mean"])
            table.append(entry)
        out[str(n)] = table
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-share", type=float, default=0.4)
    parser.add_argument("--sizes", default="100,300")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--predictions", type=Path, default=None,
                        help="a `replicoder classify` output (id, labels) of bills to use "
                        "instead of the TF-IDF + SVM trained here")
    parser.add_argument("--out", type=Path, default=RESULTS / "estimate.json")
    args = parser.parse_args()
    started = time.perf_counter()
    rest, gold, pred, codes, info = corpus(args.train_share, args.seed, args.predictions)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = simulate(rest, gold, pred, codes, sizes, args.reps)
    seconds = time.perf_counter() - started
    report = {"benchmark": "estimate", "level": LEVEL, "reps": args.reps, "sizes": sizes,
              "train_share": args.train_share, "seed": args.seed, "methods": list(METHODS),
              "min_prevalence": MIN_PREVALENCE,
              "coverage_standard_error_at_0.95": float(np.sqrt(0.95 * 0.05 / args.reps)),
              "estimators": {
                  "ppi": "stratified PPI on the predicted label (Fisch et al. 2024), Wilson "
                         "interval per stratum, MOVER sum (Zou and Donner 2008)",
                  "sample-only": "verified share, Wilson interval",
                  "classify-and-count": "predicted share, binomial interval as if true"},
              **info, "seconds": seconds,
              "versions": manifest.versions(("numpy", "scikit-learn", "pandas")),
              "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"classifier accuracy on the {info['corpus_documents']} corpus documents: "
          f"{info['corpus_accuracy']:.3f} (trained on {info['train_documents']})")
    head = f"{'n':>4} {'scope':<16} {'method':<33} {'cov min':>7} {'min>=5%':>7} " \
           f"{'cov mean':>8} {'width':>6} {'|bias| max':>10} {'|bias| mean':>11}"
    print(head)
    for n, table in results.items():
        for entry in table:
            for method, m in [*((k, entry[k]) for k in METHODS), *entry["rejected"].items()]:
                print(f"{n:>4} {entry['scope'] + ' ' + entry['group']:<16} {method:<33} "
                      f"{m['coverage_min']:7.3f} {m['coverage_min_5pct']:7.3f} "
                      f"{m['coverage_mean']:8.3f} "
                      f"{m['width_mean']:6.3f} {m['bias_max_abs']:10.4f} "
                      f"{m['bias_mean_abs']:11.4f}")
            print(f"{'':>4} {'':<16} PPI width / sample-only width = "
                  f"{entry['ppi_width_over_sample_only']:.3f}")
    print(f"wrote {args.out} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
