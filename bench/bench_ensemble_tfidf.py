"""Which TF-IDF part `train --with-tfidf` should use: variants chosen on validation.

Takes two classifiers already trained by `bench_train.py` on the bills reference split: a
draft (trained on the training part, so the validation part is unseen) and a refit
(trained on training + validation). For each TF-IDF variant (word 1-2 grams, or word 1-2 +
character 2-5 grams within words; C 0.25, 0.5, 1):
  - fit on the training part, pick the ensemble weight on validation with the draft's
    scores (lowest log-loss, as training does) and record that log-loss: the selection;
  - fit on training + validation and combine with the refit's test scores at that weight;
  - the test accuracy / macro-F1 of each, paired (bootstrap, same test titles) with the
    word-only C = 0.5 part that `--with-tfidf` used before, and TF-IDF alone.
The variant with the lowest validation log-loss is the one to keep; test figures are
reported for all, never used to choose. Writes bench/results/ensemble_tfidf.json. Usage:
  .venv/bin/python bench/bench_ensemble_tfidf.py --study DIR --draft MODEL --refit MODEL
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_train import reference_split

from replicoder import atomic
from replicoder import study as study_mod
from replicoder.metrics.labelsets import headline
from replicoder.metrics.paired import difference
from replicoder.models import load_trained
from replicoder.models.ensemble import choose_weight, combine
from replicoder.models.tfidf import TfidfSvm

RESULTS = Path(__file__).parent / "results"
VARIANTS = {f"{kind}_C{c}": (c, chars) for kind, chars in (("word", None), ("word_char", (2, 5)))
            for c in (0.25, 0.5, 1.0)}
BEFORE = "word_C0.5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, required=True)
    parser.add_argument("--draft", required=True, help="model trained on the training part")
    parser.add_argument("--refit", required=True, help="model trained on train + validation")
    parser.add_argument("--validation", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS / "ensemble_tfidf.json")
    args = parser.parse_args()
    st = study_mod.open_study(args.study)
    codes = st.codebook.codes
    index = {c: i for i, c in enumerate(codes)}
    df, parts = reference_split(args.validation)
    part = df.id.astype(str).map(parts)
    train_part, val, test = df[part == "train"], df[part == "validation"], df[part == "test"]
    both = pd.concat([train_part, val])
    truth_val = np.array([index[str(t)] for t in val.major_topic])
    truth = [frozenset([str(t)]) for t in test.major_topic]
    test_codes = test.major_topic.astype(str).to_numpy()
    scores = {}
    for key, name in (("draft", args.draft), ("refit", args.refit)):
        model = load_trained(st, name)
        scores[key] = {p: model.predict(d.text.tolist(), d.id.astype(str).tolist()).scores
                       for p, d in (("val", val), ("test", test))}
    out: dict[str, Any] = {"study": str(args.study), "draft": args.draft, "refit": args.refit,
                           "n_validation": len(val), "n_test": len(test),
                           "cpu_count": os.cpu_count(),
                           "created_at": time.strftime("%Y-%m-%d"), "variants": {}}

    def fit(d: pd.DataFrame, c: float, chars: tuple[int, int] | None) -> TfidfSvm:
        return TfidfSvm(c=c, char_ngrams=chars).fit(
            d.text.tolist(), [{str(t)} for t in d.major_topic], codes, multi_label=False)

    picks: dict[str, np.ndarray] = {}
    for label, (c, chars) in VARIANTS.items():
        weight, rows = choose_weight(scores["draft"]["val"],
                                     fit(train_part, c, chars).decision_function(
                                         val.text.tolist()), truth_val)
        chosen = next(r for r in rows if r["weight"] == weight)
        tfidf = fit(both, c, chars)
        margins = tfidf.decision_function(test.text.tolist())
        mixed = combine(scores["refit"]["test"], margins, weight).argmax(1)
        picks[label] = np.array([codes[j] for j in mixed])
        alone = fit(train_part, c, chars).predict(test.text.tolist())[0]
        out["variants"][label] = {
            "C": c, "char_ngrams": list(chars) if chars else None, "weight": weight,
            "validation_log_loss": chosen["log_loss"],
            "validation_accuracy": chosen["accuracy"],
            "refit_ensemble": headline(truth, [frozenset([p]) for p in picks[label]], codes),
            "tfidf_alone_train_part": headline(truth, alone, codes)}
    for label, pred in picks.items():
        out["variants"][label]["paired_vs_" + BEFORE] = difference(
            (pred == test_codes).astype(float), (picks[BEFORE] == test_codes).astype(float),
            metric="subset_accuracy")
    best = min(out["variants"], key=lambda k: out["variants"][k]["validation_log_loss"])
    out["chosen_on_validation"] = best
    b, w = out["variants"][best], out["variants"][BEFORE]
    out["chosen_vs_before_accuracy_ratio"] = (b["refit_ensemble"]["subset_accuracy"]
                                              / w["refit_ensemble"]["subset_accuracy"])
    for label, v in out["variants"].items():
        print(label, v["weight"], round(v["validation_log_loss"], 4),
              round(v["refit_ensemble"]["subset_accuracy"], 3),
              round(v["refit_ensemble"]["f1_macro"], 3), flush=True)
    print("chosen on validation:", best)
    atomic.write_text(args.out, json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
