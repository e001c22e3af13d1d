"""Fine-tuning quality and time on the US Congress reference split.

Reference split (../shared/data/README.md): drop code 99, stratified 80/20, seed 0.
The 80% is split again (stratified, seed 0) into training and a validation part of
--validation documents used for early stopping; the 20% test part is never seen.
Reports test accuracy and macro-F1 and training wall time for each mode, next to
TF-IDF + linear SVM trained on the whole 80% (measured in the same run) and, with
--zero-shot N, the embedded model zero-shot on N test documents.
Writes bench/results/train.json. Usage:
  .venv/bin/python bench/bench_train.py [--modes classifier,generative] [--epochs 3]
      [--train-limit N] [--zero-shot 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from data import bills_path
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from replicoder import importer
from replicoder import study as study_mod
from replicoder.metrics import headline
from replicoder.models import load_trained, zero_shot
from replicoder.train import TrainConfig, train

RESULTS = Path(__file__).parent / "results"


def reference_split(validation: int) -> tuple[pd.DataFrame, dict[str, str]]:
    df = pd.read_csv(bills_path())
    df = df[df.major_topic != 99].reset_index(drop=True)
    rest, test = train_test_split(df, test_size=0.2, stratify=df.major_topic, random_state=0)
    train_part, val = train_test_split(rest, test_size=validation, stratify=rest.major_topic,
                                       random_state=0)
    parts = {str(i): "train" for i in train_part.id}
    parts.update({str(i): "validation" for i in val.id})
    parts.update({str(i): "test" for i in test.id})
    return df, parts


def tfidf(df: pd.DataFrame, parts: dict[str, str], codes: list[str]) -> dict[str, float]:
    part = df.id.astype(str).map(parts)
    fit, test = df[part != "test"], df[part == "test"]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    svm = LinearSVC(C=0.5).fit(vec.fit_transform(fit.text), fit.major_topic.astype(str))
    pred = [frozenset([p]) for p in svm.predict(vec.transform(test.text))]
    truth = [frozenset([str(t)]) for t in test.major_topic]
    return headline(truth, pred, codes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default="classifier,generative")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--validation", type=int, default=300)
    ap.add_argument("--zero-shot", type=int, default=0)
    ap.add_argument("--lr", type=float, default=None, help="default: the mode's own")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--study", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=RESULTS / "train.json")
    args = ap.parse_args()
    root = args.study or Path(tempfile.mkdtemp(prefix="bench-train-"))
    df, parts = reference_split(args.validation)
    if (root / "replicoder.toml").exists():
        st = study_mod.open_study(root)
    else:
        st = study_mod.init(root)
        importer.import_file(st, bills_path(), text="text", id="id", labels="major_topic",
                             unknown_labels="drop")
        with st.store() as store:
            store.add_split({d: p for d, p in parts.items()}, 0)
    codes = st.codebook.codes
    test = df[df.id.astype(str).map(parts) == "test"]
    if args.test_limit:
        test = test.head(args.test_limit)
    test_ids, test_texts = test.id.astype(str).tolist(), test.text.tolist()
    truth = [frozenset([str(t)]) for t in test.major_topic]
    out: dict[str, Any] = {"data": str(bills_path().name), "n_test": len(test_ids),
                           "args": {k: str(v) for k, v in vars(args).items()}}
    t = time.perf_counter()
    out["tfidf_svm"] = {**tfidf(df, parts, codes), "seconds": time.perf_counter() - t}
    print("tfidf", out["tfidf_svm"], flush=True)
    for mode in [m for m in args.modes.split(",") if m]:
        train_ids = [d for d, p in parts.items() if p == "train"]
        if args.train_limit:
            rng = np.random.default_rng(0)
            train_ids = sorted(rng.choice(train_ids, args.train_limit, replace=False).tolist())
        config = TrainConfig(mode=mode, epochs=args.epochs, lr=args.lr,
                             batch_size=args.batch_size)
        name = f"bench-{mode}-{int(time.time())}"
        t = time.perf_counter()
        result = train(st, name, config, train_ids=train_ids)
        train_s = time.perf_counter() - t
        model = load_trained(st, name)
        t = time.perf_counter()
        pred = model.predict(test_texts, test_ids)
        predict_s = time.perf_counter() - t
        out[mode] = {**headline(truth, pred.labels, codes), "train_seconds": train_s,
                     "train_minutes": train_s / 60, "n_train": len(train_ids),
                     "validation": result.metrics, "test_predict_seconds": predict_s,
                     "config": config.to_dict(), "device": result.manifest["device"],
                     "bf16": result.manifest["bf16"]}
        print(mode, {k: v for k, v in out[mode].items() if k != "config"}, flush=True)
    if args.zero_shot:
        scorer = zero_shot(st)
        n = args.zero_shot
        t = time.perf_counter()
        sets, _, raw = scorer.predict(test_texts[:n])
        out["zero_shot"] = {**headline(truth[:n], sets, codes), "seconds":
                            time.perf_counter() - t, "examples": raw[:5]}
        print("zero-shot", out["zero_shot"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
