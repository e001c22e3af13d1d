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

Paired recipe experiments: each --run LABEL[:KEY=VALUE;...] trains one classifier with
those TrainConfig changes (values read as JSON where they parse, else as text), all on the
same split and test documents, in turn, in this process; each run after the first gets a
paired bootstrap interval of its test accuracy minus the first run's. With refit=true
(TrainConfig.refit) the run trains on training + validation documents, and so does the
--ensemble TF-IDF model; ensemble_weight=W, a setting of this benchmark, fixes that model's
weight (a refit run's validation scores are not honest).
With --ensemble each run is also scored combined with TF-IDF + SVM fit on the same training
documents (weight chosen on validation), and "tfidf_same_train" is that TF-IDF model alone.
The JSON records the load average before and after each run (the machine is shared).
Example, Gemma against SmolLM2:
  .venv/bin/python bench/bench_train.py --epochs 1 --train-limit 800 --test-limit 400 \
      --run smollm2 --run gemma:base=gemma-270m --ensemble --out bench/results/train_gemma.json
"""

from __future__ import annotations

import argparse
import json
import os
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

from replicoder import atomic, importer
from replicoder import study as study_mod
from replicoder.metrics.labelsets import headline
from replicoder.metrics.paired import difference
from replicoder.models import load_trained, zero_shot
from replicoder.models.ensemble import choose_weight, combine
from replicoder.models.tfidf import TfidfSvm
from replicoder.train import TrainConfig, train
from replicoder.train.tfidf import tfidf_part

RESULTS = Path(__file__).parent / "results"
WEIGHT = "ensemble_weight"  # --run setting of this benchmark: a fixed TF-IDF weight


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


def parse_run(spec: str) -> tuple[str, dict[str, Any]]:
    """'label:key=value;key=value' -> (label, TrainConfig changes)."""
    label, _, rest = spec.partition(":")
    changes: dict[str, Any] = {}
    for item in filter(None, rest.split(";")):
        key, _, raw = item.partition("=")
        try:
            changes[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            changes[key.strip()] = raw.strip()
    return label, changes


def paired_run(st: study_mod.Study, label: str, config: TrainConfig | None,
               train_ids: list[str], df: pd.DataFrame, parts: dict[str, str],
               test: pd.DataFrame, ensemble: bool, fixed_weight: float | None = None
               ) -> dict[str, Any]:
    """Train one classifier (``config`` None: score the study's existing model ``label``,
    trained on ``train_ids``) and score it on the test documents (and with TF-IDF; with
    ``fixed_weight`` that TF-IDF weight instead of one chosen on validation). The test
    predictions are kept (``test_pred``) for paired comparisons between runs."""
    codes = st.codebook.codes
    truth = [frozenset([str(t)]) for t in test.major_topic]
    load_before = os.getloadavg()
    name, train_s = label, float("nan")
    if config is not None:
        name = f"bench-{label}-{int(time.time())}"
        t = time.perf_counter()
        train(st, name, config, train_ids=train_ids)
        train_s = time.perf_counter() - t
    model = load_trained(st, name)
    if ensemble and model.settings.get("refit") and fixed_weight is None:
        fixed_weight = model.settings.get("tfidf_weight")  # validation was trained on
        if fixed_weight is None:
            raise SystemExit(f"{name} was trained on the validation titles: give its TF-IDF "
                             "weight (--reference-weight, or ensemble_weight=W in --run)")
    texts = test.text.tolist()
    t = time.perf_counter()
    pred = model.predict(texts, test.id.astype(str).tolist())
    out: dict[str, Any] = {
        **headline(truth, pred.labels, codes), "train_minutes": train_s / 60,
        "test_predict_seconds": time.perf_counter() - t,
        "n_train": model.manifest["data"]["n_train"],
        "validation": json.loads((model.folder / "metrics.json").read_text("utf-8")),
        "bf16": model.manifest["precision"] == "bf16", "config": model.settings,
        "device": model.manifest["device"], "test_pred": [sorted(p)[0] for p in pred.labels]}
    if ensemble and pred.scores is not None:
        index = {c: i for i, c in enumerate(codes)}
        by_id = df.set_index(df.id.astype(str))
        fit = by_id.loc[train_ids]
        if model.settings.get("refit"):
            fit = pd.concat([fit, by_id.loc[[d for d, p in parts.items() if p == "validation"]]])
        tfidf = tfidf_part(0).fit(fit.text.tolist(), [{str(t)} for t in fit.major_topic],
                                  codes, multi_label=False)
        val = df[df.id.astype(str).map(parts) == "validation"]
        val_probs = model.predict(val.text.tolist(), val.id.astype(str).tolist()).scores
        assert val_probs is not None
        weight, rows = choose_weight(val_probs, tfidf.decision_function(val.text.tolist()),
                                     np.array([index[str(t)] for t in val.major_topic]))
        if fixed_weight is not None:
            weight = fixed_weight
        mixed = combine(pred.scores, tfidf.decision_function(texts), weight).argmax(1)
        out["ensemble"] = {**headline(truth, [frozenset([codes[j]]) for j in mixed], codes),
                           "weight": weight, "weight_fixed": fixed_weight is not None,
                           "validation": rows, "test_pred": [codes[j] for j in mixed]}
        out["tfidf_chars_same_train"] = headline(truth, tfidf.predict(texts)[0], codes)
        words = TfidfSvm().fit(fit.text.tolist(), [{str(t)} for t in fit.major_topic], codes,
                               multi_label=False)
        out["tfidf_same_train"] = headline(truth, words.predict(texts)[0], codes)
    out["load_before"], out["load_after"] = load_before, os.getloadavg()
    return out


def paired_with_first(runs: dict[str, Any], run: dict[str, Any], test: pd.DataFrame
                      ) -> dict[str, Any]:
    """This run's test accuracy minus the first run's (its classifier alone and with
    TF-IDF), with 95% paired bootstrap intervals over the same test documents."""
    if not runs:
        return {}
    first_label, first = next(iter(runs.items()))
    truth = test.major_topic.astype(str).to_numpy()
    out: dict[str, Any] = {"vs_first": first_label}
    for key, a, b in (("paired", run, first),
                      ("paired_ensemble", run.get("ensemble"), first.get("ensemble"))):
        if a and b:
            out[key] = difference((np.asarray(a["test_pred"]) == truth).astype(float),
                                  (np.asarray(b["test_pred"]) == truth).astype(float),
                                  metric="subset_accuracy")
    return out


def step_speed(runs: list[tuple[str, TrainConfig]], texts: list[str], codes: list[str],
               steps: int, rounds: int = 3) -> dict[str, Any]:
    """Training docs/s of each config: ``steps`` optimizer steps per round, the configs
    taking turns each round (a shared machine's load falls on all of them alike)."""
    import torch

    from replicoder.models.base import load_tokenizer, resolve
    from replicoder.models.classifier import ClassifierScorer
    from replicoder.models.runtime import choose
    from replicoder.train.classifier import new_model
    from replicoder.train.loop import _optimizer

    ready = []
    for label, config in runs:
        device, bf16 = choose(config.device, config.precision)
        base = resolve(config.base)
        tok = load_tokenizer(base)
        tok.padding_side = "right"
        model = new_model(base, len(codes), False, config, device, bf16)
        scorer = ClassifierScorer(model, tok, False, config.max_length or 64, device, bf16)
        ids = scorer.encode(texts[:steps * config.batch_size]).windows
        ready.append((label, config, scorer, _optimizer(model, config), ids))
    times: dict[str, list[float]] = {label: [] for label, *_ in runs}
    for _ in range(rounds):
        for label, config, scorer, optimizer, ids in ready:
            scorer.model.train()
            t = time.perf_counter()
            for i in range(steps):
                batch = ids[i * config.batch_size:(i + 1) * config.batch_size]
                target = torch.zeros(len(batch), dtype=torch.long)
                loss = torch.nn.functional.cross_entropy(scorer.logits(batch), target)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            times[label].append(time.perf_counter() - t)
    first = runs[0][0]
    out = {label: {"docs_per_s": steps * config.batch_size / float(np.median(times[label])),
                   "seconds": times[label]} for label, config in runs}
    for label in out:
        out[label]["ratio_vs_" + first] = out[label]["docs_per_s"] / out[first]["docs_per_s"]
    return out


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
    ap.add_argument("--run", action="append", default=[], metavar="LABEL[:KEY=VALUE;...]",
                    help="a paired classifier run with these TrainConfig changes")
    ap.add_argument("--reference-weight", type=float, default=None, metavar="W",
                    help="with --reference and --ensemble: this TF-IDF weight (needed for a "
                         "refit model, whose validation titles were trained on)")
    ap.add_argument("--reference", metavar="MODEL",
                    help="a model of --study trained on this split's training part: the "
                         "first run, scored again, not retrained")
    ap.add_argument("--ensemble", action="store_true",
                    help="also score each --run combined with TF-IDF (weight on validation)")
    ap.add_argument("--step-speed", type=int, default=0, metavar="STEPS",
                    help="only time STEPS training steps of each --run, in turns")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
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
                           "args": {k: str(v) for k, v in vars(args).items()},
                           "cpu_count": os.cpu_count(), "load_before": os.getloadavg(),
                           "created_at": time.strftime("%Y-%m-%d")}
    t = time.perf_counter()
    out["tfidf_svm"] = {**tfidf(df, parts, codes), "seconds": time.perf_counter() - t}
    print("tfidf", out["tfidf_svm"], flush=True)
    train_ids = [d for d, p in parts.items() if p == "train"]
    if args.train_limit:
        rng = np.random.default_rng(0)
        train_ids = sorted(rng.choice(train_ids, args.train_limit, replace=False).tolist())
    if args.step_speed:
        configs = []
        for spec in args.run:
            label, changes = parse_run(spec)
            configs.append((label, TrainConfig(**{"mode": "classifier", "lr": args.lr,
                                                  "batch_size": args.batch_size, **changes})))
        by_id = df.set_index(df.id.astype(str))
        out["step_speed"] = step_speed(configs, by_id.loc[train_ids].text.tolist(), codes,
                                       args.step_speed)
        print(out["step_speed"], flush=True)
        args.run, args.modes = [], ""
    if args.run:
        out["runs"] = {}
        if args.reference:
            out["runs"][args.reference] = {"reference": True, **paired_run(
                st, args.reference, None, train_ids, df, parts, test, args.ensemble,
                args.reference_weight)}
        for spec in args.run:
            label, changes = parse_run(spec)
            weight = changes.pop(WEIGHT, None)
            config = TrainConfig(**{"mode": "classifier", "epochs": args.epochs,
                                    "lr": args.lr, "batch_size": args.batch_size, **changes})
            run = paired_run(st, label, config, train_ids, df, parts, test, args.ensemble,
                             weight)
            out["runs"][label] = {"changes": changes, **run,
                                  **paired_with_first(out["runs"], run, test)}
            print(label, {k: v for k, v in out["runs"][label].items()
                          if k not in ("config", "validation", "test_pred")}, flush=True)
            write(args.out, out)
        args.modes = ""
    for mode in [m for m in args.modes.split(",") if m]:
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
                     "bf16": result.manifest["precision"] == "bf16"}
        print(mode, {k: v for k, v in out[mode].items() if k != "config"}, flush=True)
    if args.zero_shot:
        scorer = zero_shot(st)
        n = args.zero_shot
        t = time.perf_counter()
        sets, _, raw = scorer.predict(test_texts[:n])
        out["zero_shot"] = {**headline(truth[:n], sets, codes), "seconds":
                            time.perf_counter() - t, "examples": raw[:5]}
        print("zero-shot", out["zero_shot"], flush=True)
    out["load_after"] = os.getloadavg()
    write(args.out, out)


def write(path: Path, out: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
