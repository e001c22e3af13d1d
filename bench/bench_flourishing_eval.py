"""Score the paper's own flourishing predictions with replicoder's graded metrics.

Reads ../shared/data/flourishing/ (the seed paper's public replication data, CC BY 4.0;
see its README): the verified labels answers.csv (one Python-dict string per tweet,
{'dimension': 'intensity'}) and the fine-tuned and zero-shot models' predictions
classified-*.csv.gz (one row per tweet × dimension). Each model file is read with
replicoder.evaluate.external.read_external (dimension names matched ignoring case, spaces,
punctuation and the word "or"; hallucinated dimensions, unknown intensities and a second
intensity for the same dimension dropped and counted) and scored with
replicoder.metrics.graded on two sets of tweets:
  - all: every tweet with an answer (2,404); a tweet the model has no row for counts as
    "no labels" (how `replicoder evaluate --predictions` scores);
  - answered: only the tweets the model has rows for (what the authors' n / 46 = ntext
    suggests they did).
Baseline measured in the same run: predicting no label for every tweet. Prints a table
next to the authors' summaryOld.csv figures and writes bench/results/flourishing_eval.json.

Usage: .venv/bin/python bench/bench_flourishing_eval.py
"""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from replicoder import run as manifest
from replicoder.evaluate.external import label_key, read_external
from replicoder.labels.codebook import Codebook, Label
from replicoder.metrics import graded as graded_metrics

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "flourishing"
RESULTS = Path(__file__).parent / "results"
MODELS = {"classified-chatgpt4": "GPT-4 (zero-shot)", "classified-L2-7B-FT": "LLaMA-2 7B FT",
          "classified-L2-13B-FT": "LLaMA-2 13B FT", "classified-L2-70B-FT": "LLaMA-2 70B FT",
          "classified-L3-70B-FT": "LLaMA-3 70B FT", "classified-L32-1B-FT": "LLaMA-3.2 1B FT"}
SCALE = ("low", "medium", "high")
KEYS = ("accD", "accI", "FN", "FP", "jac", "ham")
HOW = """flourishing data not found at {path}.
It is the folder flourishing/ of github.com/siacus/rethinking-scale (Carammia, Iacus, Porro
2024, CC BY 4.0), gzipped: answers.csv.gz, summaryOld.csv.gz and classified-*.csv.gz.
Put it at {path} (../shared/data/flourishing next to the repository)."""


def codebook(load_builtin: bool = True) -> Codebook:
    """The built-in flourishing codebook when there is one, else one built from answers.csv."""
    if load_builtin:
        try:
            from replicoder.labels.codebook import load

            return load("flourishing")
        except Exception:  # noqa: BLE001 - not shipped on this branch: build it below
            pass
    names: dict[str, str] = {}
    for answer in gold_dicts().values():
        for name in answer:
            names.setdefault(label_key(name), name.strip())
    labels = tuple(Label(key, names[key]) for key in sorted(names))
    return Codebook("flourishing-from-answers", labels, multi_label=True, intensities=SCALE)


def gold_dicts() -> dict[str, dict[str, str]]:
    frame = pd.read_csv(DATA / "answers.csv.gz", dtype=str, keep_default_na=False)
    return {i.strip(): ast.literal_eval(a) for i, a in zip(frame["id"], frame["answer"],
                                                             strict=True)}


def gold_sets(book: Codebook) -> dict[str, frozenset[str]]:
    by_key = {label_key(lab.name): lab.code for lab in book.labels}
    by_key.update({label_key(lab.code): lab.code for lab in book.labels})
    return {doc: frozenset(f"{by_key[label_key(k)]}:{v.strip().lower()}" for k, v in d.items())
            for doc, d in gold_dicts().items()}


def scores(truth: list[frozenset[str]], pred: list[frozenset[str]], book: Codebook
           ) -> dict[str, Any]:
    m = graded_metrics.evaluate(truth, pred, book.codes, book.intensities)
    ci = graded_metrics.bootstrap_ci(truth, pred, book.codes, book.intensities, n_boot=200)
    out: dict[str, Any] = {"n_documents": len(truth)}
    for paper, key in graded_metrics.PAPER_NAMES.items():
        out[paper] = m[key]
        out[f"{paper}_ci"] = ci[key]
    out["jaccard_graded"] = m["jaccard_graded"]
    return out


def main() -> None:
    if not (DATA / "answers.csv.gz").is_file():
        sys.exit(HOW.format(path=DATA))
    start = time.perf_counter()
    book = codebook()
    gold = gold_sets(book)
    ids = sorted(gold)
    truth = [gold[d] for d in ids]
    paper = pd.read_csv(DATA / "summaryOld.csv.gz").set_index("fname")
    result: dict[str, Any] = {
        "benchmark": "flourishing_eval", "created_at": manifest.now(),
        "codebook": {"name": book.name, "labels": len(book), "intensities": list(SCALE)},
        "gold_documents": len(ids),
        "baseline_no_labels": scores(truth, [frozenset()] * len(ids), book),
        "models": {},
    }
    for stem, title in MODELS.items():
        ext = read_external(DATA / f"{stem}.csv.gz", book, id_column="id",
                            label_column="dimension", intensity_column="value", drop=True)
        answered = [d for d in ids if d in ext.sets]
        row = paper.loc[stem]
        result["models"][stem] = {
            "title": title, "read": ext.info(),
            "all": scores(truth, [ext.sets.get(d, frozenset()) for d in ids], book),
            "answered": scores([gold[d] for d in answered], [ext.sets[d] for d in answered],
                               book),
            "paper": {"n_documents": int(row["ntext"]),
                      **{k: float(row[k]) for k in KEYS},
                      "jac2": float(row["jac2"])},
        }
        entry = result["models"][stem]
        entry["answered_minus_paper"] = {k: entry["answered"][k] - entry["paper"][k]
                                         for k in KEYS}
    diffs = [abs(v) for e in result["models"].values()
             for k, v in e["answered_minus_paper"].items() if k != "jac"]
    result["largest_gap_vs_paper_acc_fn_fp"] = max(diffs)
    best = max(result["models"].values(), key=lambda e: e["all"]["jac"])
    result["best_jaccard_model"] = best["title"]
    base = result["baseline_no_labels"]
    result["best_accD_vs_no_labels_ratio"] = best["all"]["accD"] / base["accD"]
    result["seconds"] = time.perf_counter() - start
    print(f"{'model':<20}{'docs':>12} " + "".join(f"{k:>16}" for k in KEYS))
    for e in result["models"].values():
        for which in ("paper", "answered", "all"):
            s = e[which]
            print(f"{e['title'] if which == 'paper' else '':<20}{which:>8}{s['n_documents']:>5} "
                  + "".join(f"{s[k]:>16.4f}" for k in KEYS))
        print(f"{'':<20}dropped: {e['read']['dropped']}")
    print(f"{'no labels':<20}{'all':>8}{base['n_documents']:>5} "
          + "".join(f"{base[k]:>16.4f}" for k in KEYS))
    manifest.write_json(RESULTS / "flourishing_eval.json", result)
    print(f"wrote {RESULTS / 'flourishing_eval.json'} in {result['seconds']:.1f} s")


if __name__ == "__main__":
    main()
