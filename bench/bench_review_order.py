"""Active review order, label audit and sample-size plan, simulated on the US bills
(issue 30). The gold labels play the coders.

1. Learning curves: TF-IDF + linear SVM trained on labels bought in random order (the
   baseline, measured in the same run) vs in the order `review assign --order uncertain`
   (and `diverse`) gives: 100 random labels to start, then batches of --batch (25), the
   model refit after each batch (as --refresh-every 25 does), test accuracy every --grid
   labels (50; the committed run reads it at every refit, 25) on 1,000 held-out bills.
   --compare-batches 50 adds the uncertain order refit every 50 labels (the earlier
   default). Headline: labels the active order needs to reach
   random order's accuracy at 2,000, per seed. The curves are of TF-IDF only; with
   --finetune-at 500,1000,2000 the fine-tuned model (--finetune-base, default the embedded
   SmolLM2) is also trained on the first n labels of the random and the uncertain order of
   the first --finetune-seeds seeds (CPU-heavy: hours on two cores; not in the committed
   JSON).
2. Audit: 5% and 10% of the gold labels swapped for another code; `review audit`'s ranking
   (5-fold cross-fitted TF-IDF + logistic regression, confident learning); recall and
   precision among its top 2 x (number of wrong labels) flags, against a random ranking.
3. Plan: `estimate plan --width W` on cross-fitted probabilities of all bills, from the
   scores alone and with a reviewed 200-document pilot; for each label, random samples of
   the planned size and the width of the PPI interval actually obtained.

Writes bench/results/review_order.json. Usage (all at once, or a part at a time, then
merged):
    nice .venv/bin/python bench/bench_review_order.py [--seeds 5] [--diverse-seeds 1]
        [--batch 25] [--compare-batches 50] [--finetune-at 500,1000,2000]
    ... --parts learning; ... --parts audit; ... --parts plan; ... --parts merge
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from data import bills_path  # noqa: E402

from replicoder import importer  # noqa: E402
from replicoder import study as study_mod  # noqa: E402
from replicoder.estimate.ppi import mover_sum, poststratify, wilson, z_value  # noqa: E402
from replicoder.estimate.sample_size import plan  # noqa: E402
from replicoder.labels.codebook import Codebook  # noqa: E402
from replicoder.models.tfidf import TfidfSvm  # noqa: E402
from replicoder.review import order as ordering  # noqa: E402
from replicoder.review import session  # noqa: E402
from replicoder.review.audit import cross_fit, flagged_ranking  # noqa: E402
from replicoder.review.sample import draw_sample  # noqa: E402

RESULTS = Path(__file__).parent / "results"
START, STEP, TOP, TEST, VALIDATION = 100, 50, 2000, 1000, 200


def load() -> pd.DataFrame:
    df = pd.read_csv(bills_path())
    df = df[df["major_topic"] != 99].reset_index(drop=True)
    return df.assign(id=df["id"].astype(str), code=df["major_topic"].astype(str))


def fit(book: Codebook, texts: list[str], codes: list[str], train: list[int], seed: int
        ) -> TfidfSvm:
    return TfidfSvm(seed=seed).fit([texts[i] for i in train], [{codes[i]} for i in train],
                                   book.codes, False)


def accuracy(model: TfidfSvm, texts: list[str], codes: list[str], test: np.ndarray) -> float:
    pred, _ = model.predict([texts[i] for i in test])
    return float(np.mean([next(iter(p)) == codes[i] for p, i in zip(pred, test, strict=True)]))


def curves(df: pd.DataFrame, book: Codebook, seed: int, arms: dict[str, tuple[str, int]]
           ) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Test accuracy every STEP labels, and the labels bought in each arm's order.
    ``arms``: name -> (order, batch); an active arm refits after each batch of labels and
    ranks the pool with that fit (what `refresh_if_due` does with --refresh-every batch)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(df))
    test, pool = perm[:TEST], perm[TEST:]
    texts, codes = df["text"].tolist(), df["code"].tolist()
    ids = [str(i) for i in range(len(df))]
    text_of = dict(zip(ids, texts, strict=True))
    sizes = list(range(START, TOP + 1, STEP))
    out: dict[str, list[float]] = {"random": [
        accuracy(fit(book, texts, codes, list(pool[:s]), seed), texts, codes, test)
        for s in sizes]}
    bought: dict[str, list[int]] = {"random": [int(i) for i in pool[:TOP]]}
    for name, (kind, batch) in arms.items():
        chosen = list(pool[:START])
        accs: list[float] = []
        while True:
            model = fit(book, texts, codes, chosen, seed)
            if len(chosen) % STEP == 0:
                accs.append(accuracy(model, texts, codes, test))
            if len(chosen) >= TOP:
                break
            taken = set(chosen)
            left = [ids[i] for i in pool if i not in taken]
            scores = model.decision_function([text_of[d] for d in left])
            ranked = ordering._ranked(left, ordering.margins(scores, False), seed)
            if kind == "diverse":
                ranked = ordering.diverse(ranked[:ordering.CANDIDATES * batch], text_of, batch)
            chosen += [int(d) for d in ranked[:batch]]
        out[name], bought[name] = accs, [int(i) for i in chosen]
    return out, bought


def needed(active: list[float], target: float) -> int | None:
    sizes = list(range(START, TOP + 1, STEP))
    return next((s for s, a in zip(sizes, active, strict=True) if a >= target), None)


def arms_of(seed: int, batch: int, compare: list[int], diverse_seeds: int
            ) -> dict[str, tuple[str, int]]:
    arms = {"uncertain": ("uncertain", batch)}
    arms.update({f"uncertain_batch{b}": ("uncertain", b) for b in compare})
    if seed < diverse_seeds:
        arms["diverse"] = ("diverse", batch)
    return arms


def learning(df: pd.DataFrame, book: Codebook, seeds: int, diverse_seeds: int, batch: int,
             compare: list[int], finetune: dict[str, Any] | None) -> dict[str, Any]:
    runs, tuned = [], []
    for s in range(seeds):
        accs, bought = curves(df, book, s, arms_of(s, batch, compare, diverse_seeds))
        runs.append(accs)
        if finetune and s < finetune["seeds"]:
            tuned.append(finetuned_points(df, s, bought, finetune))
    sizes = list(range(START, TOP + 1, STEP))
    out: dict[str, Any] = {"sizes": sizes, "test_documents": TEST, "batch": batch,
                           "refresh_every": batch, "grid": STEP,
                           "pool_documents": len(df) - TEST, "seeds": seeds,
                           "diverse_seeds": diverse_seeds, "model": "tfidf"}
    arm_names = ["random", *arms_of(0, batch, compare, diverse_seeds)]
    for arm in arm_names:
        acc = np.array([r[arm] for r in runs if arm in r])
        if len(acc):
            out[arm] = {"mean": acc.mean(0).round(4).tolist(),
                        "sd": acc.std(0).round(4).tolist()}
    for arm in arm_names[1:]:
        if arm not in out:
            continue
        per_seed = [needed(r[arm], r["random"][-1]) for r in runs if arm in r]
        random_mean = float(np.mean([r["random"][-1] for r in runs if arm in r]))
        mean_need = needed(out[arm]["mean"], random_mean)
        out[f"{arm}_labels_to_match_random_{TOP}"] = {
            "per_seed": per_seed, "of_mean_curves": mean_need,
            "mean": float(np.mean([p or TOP * 2 for p in per_seed])),
            "sd": float(np.std([p or TOP * 2 for p in per_seed])),
            "ratio_vs_random": (mean_need or TOP * 2) / TOP}
    out["random_accuracy_at_2000"] = out["random"]["mean"][-1]
    best = out["uncertain_labels_to_match_random_2000"]
    out["meets_target"] = bool(best["of_mean_curves"] and best["of_mean_curves"] <= 1200
                               and best["mean"] <= 1200)
    if tuned:
        out["finetuned"] = {"settings": dict(finetune or {}), "runs": tuned}
    return out


def finetuned_points(df: pd.DataFrame, seed: int, bought: dict[str, list[int]],
                     settings: dict[str, Any]) -> dict[str, Any]:
    """Fine-tune ``settings["base"]`` on the first n labels of the random and the
    uncertain order, at each n of ``settings["points"]``; accuracy on the held-out bills
    (the first VALIDATION of them early-stop the training, the rest are the test)."""
    from replicoder.models import load_trained
    from replicoder.train import TrainConfig, train

    rng = np.random.default_rng(seed)
    held = rng.permutation(len(df))[:TEST]
    validation, test = held[:VALIDATION], held[VALIDATION:]
    ids, codes = df["id"].tolist(), df["code"].tolist()
    root = Path(tempfile.mkdtemp(prefix="bench-review-order-"))
    df[["id", "text", "code"]].to_csv(root / "bills.csv", index=False)
    st = study_mod.init(root / "study", "cap")
    importer.import_file(st, root / "bills.csv", text="text", id="id", labels="code")
    parts = {ids[i]: "validation" for i in validation}
    parts.update({ids[i]: "test" for i in test})
    parts.update({d: "train" for d in ids if d not in parts})
    with st.store() as store:
        store.add_split(parts, seed)
    truth = [codes[i] for i in test]
    out: dict[str, Any] = {"seed": seed, "validation": VALIDATION, "test": len(test)}
    for arm in ("random", "uncertain"):
        rows = []
        for n in settings["points"]:
            t = time.perf_counter()
            name = f"{arm}-{n}"
            config = TrainConfig(base=settings["base"], epochs=settings["epochs"], seed=seed)
            train(st, name, config, train_ids=[ids[i] for i in bought[arm][:n]])
            pred = load_trained(st, name).predict([df["text"][i] for i in test],
                                                  [ids[i] for i in test])
            acc = float(np.mean([sorted(p)[0] == c for p, c in
                                 zip(pred.labels, truth, strict=True)]))
            rows.append({"labels": n, "accuracy": round(acc, 4),
                         "seconds": round(time.perf_counter() - t, 1)})
            print("finetuned", seed, arm, rows[-1], flush=True)
        out[arm] = rows
    return out


def audit_noise(df: pd.DataFrame, book: Codebook, seeds: int) -> dict[str, Any]:
    texts, codes = df["text"].tolist(), df["code"].tolist()
    present = sorted(set(codes))
    out: dict[str, Any] = {"documents": len(df), "folds": 5}
    for noise in (0.05, 0.10):
        rows = []
        for seed in range(seeds):
            rng = np.random.default_rng(100 + seed)
            k = int(noise * len(df))
            wrong = rng.choice(len(df), size=k, replace=False)
            noisy = list(codes)
            for i in wrong:
                noisy[i] = str(rng.choice([c for c in present if c != codes[i]]))
            t = time.perf_counter()
            flagged, order = flagged_ranking(book, texts, [frozenset([c]) for c in noisy],
                                             folds=5, seed=seed)
            secs = time.perf_counter() - t
            top = set(int(i) for i in order[:2 * k])
            hits = len(top & set(int(i) for i in wrong))
            rows.append({"seed": seed, "injected": k, "flagged": len(flagged),
                         "recall_top_2k": hits / k, "precision_top_2k": hits / (2 * k),
                         "precision_top_k": len(set(int(i) for i in order[:k]) &
                                                set(int(i) for i in wrong)) / k,
                         "seconds": round(secs, 1)})
        recall = np.array([r["recall_top_2k"] for r in rows])
        random_recall = 2 * noise * len(df) / len(df)
        out[f"noise_{int(noise * 100)}pct"] = {
            "runs": rows, "recall_top_2k_mean": float(recall.mean()),
            "recall_top_2k_sd": float(recall.std()),
            "precision_top_2k_mean": float(np.mean([r["precision_top_2k"] for r in rows])),
            "random_ranking_recall_top_2k": random_recall,
            "recall_ratio_vs_random_ranking": float(recall.mean() / random_recall),
            "meets_target": bool(recall.mean() >= 0.6)}
    return out


def obtained(y: np.ndarray, yhat: np.ndarray, n: int, draws: int, z: float,
             rng: np.random.Generator) -> float:
    widths = []
    for _ in range(draws):
        pick = rng.choice(len(y), n, replace=False)
        w, k, m = poststratify(y[pick, None], yhat[pick, None], yhat[:, None])
        b = mover_sum(w, wilson(k, m, z))
        widths.append(float(b.high[0] - b.low[0]))
    return float(np.mean(widths))


def plan_check(df: pd.DataFrame, book: Codebook, width: float, seeds: int) -> dict[str, Any]:
    codes = df["code"].tolist()
    y_idx = np.array([book.codes.index(c) for c in codes])
    probs = cross_fit(df["text"].tolist(), y_idx, len(book.codes), 5, 0)
    pred = probs.argmax(1)
    out: dict[str, Any] = {"width": width, "level": 0.95, "draws": 40 * seeds}
    z = z_value(0.95)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        df[["id", "text"]].to_csv(root / "bills.csv", index=False)
        st = study_mod.init(root / "study", "cap")
        importer.import_file(st, root / "bills.csv", text="text", id="id")
        frame = pd.DataFrame({"id": df["id"], "labels": [book.codes[i] for i in pred]})
        for j, c in enumerate(book.codes):
            frame[f"score_{c}"] = probs[:, j]
        frame.to_parquet(root / "coded.parquet", index=False)
        for source in ("scores", "pilot"):
            if source == "pilot":
                sample = draw_sample(st, 200, 7, coders=["gold"])
                truth = dict(zip(df["id"], codes, strict=True))
                with st.store() as store:
                    for d in sample.doc_ids:
                        session.decide(store, st.codebook, "gold", d, [], [truth[d]], False, 1)
            result = plan(st, width, predictions=root / "coded.parquet")
            rows = []
            rng = np.random.default_rng(0)
            for _, r in result.table.iterrows():
                j = book.codes.index(r["label"])
                if not (y_idx == j).any() or r["n_ppi"] > len(df) // 2:
                    continue
                got = obtained((y_idx == j).astype(float), (pred == j).astype(float),
                               int(r["n_ppi"]), 40 * seeds, z, rng)
                rows.append({"label": r["label"], "n_ppi": int(r["n_ppi"]),
                             "n_sample_only": int(r["n_sample_only"]),
                             "predicted_width": width, "obtained_width": round(got, 5),
                             "relative_error": round(abs(got - width) / width, 4)})
            errors = np.array([r["relative_error"] for r in rows])
            out[source] = {"labels": rows, "plan_total_n_ppi": result.totals["n_ppi"],
                           "plan_total_n_sample_only": result.totals["n_sample_only"],
                           "ppi_vs_sample_only_ratio": result.totals["n_ppi"]
                           / result.totals["n_sample_only"],
                           "median_relative_error": float(np.median(errors)),
                           "max_relative_error": float(errors.max()),
                           "share_within_15pct": float((errors <= 0.15).mean()),
                           "pilot_documents": result.pilot}
    out["meets_target"] = bool(out["pilot"]["median_relative_error"] <= 0.15)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--grid", type=int, default=50,
                        help="measure test accuracy every this many labels (a multiple of "
                             "every batch size; 25 times each refit of --batch 25)")
    parser.add_argument("--width", type=float, default=0.04)
    parser.add_argument("--parts", default="learning,audit,plan")
    parser.add_argument("--diverse-seeds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=25,
                        help="labels per refit of the active orders (--refresh-every)")
    parser.add_argument("--compare-batches", default="50",
                        help="other batch sizes of the uncertain order, e.g. 50,100 ('' none)")
    parser.add_argument("--finetune-at", default="",
                        help="also fine-tune at these label counts, e.g. 500,1000,2000")
    parser.add_argument("--finetune-base", default="embedded")
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--finetune-seeds", type=int, default=1)
    args = parser.parse_args()
    globals()["STEP"] = args.grid  # the functions above read it when called
    compare = [int(b) for b in args.compare_batches.split(",") if b]
    for b in [args.batch, *compare]:
        if b < 1 or args.grid % b:
            parser.error(f"batch {b}: give a divisor of --grid {args.grid}")
    finetune = {"points": [int(n) for n in args.finetune_at.split(",")],
                "base": args.finetune_base, "epochs": args.finetune_epochs,
                "seeds": args.finetune_seeds} if args.finetune_at else None
    if args.parts == "merge":  # join the files of parts run one at a time
        merged: dict[str, Any] = {}
        args_by_part = {}
        for part in ("learning", "audit", "plan"):
            path = RESULTS / f"review_order_{part}.json"
            merged.update(json.loads(path.read_text()))
            args_by_part[part] = merged.pop("args")
            path.unlink()
        merged["args"] = args_by_part
        merged["seconds"] = sum(merged[k].get("seconds", 0) for k in
                                ("learning_curves", "audit", "plan"))
        (RESULTS / "review_order.json").write_text(json.dumps(merged, indent=2) + "\n")
        return
    df = load()
    book = study_mod.init(Path(tempfile.mkdtemp()) / "s", "cap").codebook
    started = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "review_order", "documents": len(df),
                              "args": {k: str(v) for k, v in vars(args).items()}}
    parts = args.parts.split(",")
    if "learning" in parts:
        t = time.perf_counter()
        result["learning_curves"] = learning(df, book, args.seeds, args.diverse_seeds,
                                             args.batch, compare, finetune)
        result["learning_curves"]["seconds"] = round(time.perf_counter() - t, 1)
        print(json.dumps(result["learning_curves"], indent=1)[:2000], flush=True)
    if "audit" in parts:
        t = time.perf_counter()
        result["audit"] = audit_noise(df, book, args.seeds)
        result["audit"]["seconds"] = round(time.perf_counter() - t, 1)
        print({k: v for k, v in result["audit"].items()}, flush=True)
    if "plan" in parts:
        t = time.perf_counter()
        result["plan"] = plan_check(df, book, args.width, args.seeds)
        result["plan"]["seconds"] = round(time.perf_counter() - t, 1)
    result.update({"seconds": round(time.perf_counter() - started, 1),
                   "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                   "machine": platform.platform(), "python": platform.python_version()})
    RESULTS.mkdir(exist_ok=True)
    name = "review_order.json" if len(parts) == 3 else f"review_order_{'_'.join(parts)}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "learning_curves"}, indent=1))


if __name__ == "__main__":
    main()
