"""Classify throughput of the embedded model: the `classify` path (merged bf16 weights,
length-sorted batches over windows of blocks, background tokenisation) against the path
before issue 10 (fp32 weights under autocast, per 1000-doc block, batch 32) in the same
run, label agreement with fp32, and the fraction of this machine's dense matmul FLOP/s.

A classifier is first trained for one short epoch of the embedded model. Writes
bench/results/classify.json. Usage:
  .venv/bin/python bench/bench_classify.py [--docs 600] [--train-size 200]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from data import bills_path

from replicoder import importer
from replicoder import study as study_mod
from replicoder.classify.local import classify
from replicoder.models import load_trained
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.runtime import length_batches
from replicoder.train import TrainConfig, train

RESULTS = Path(__file__).parent / "results"


def matmul_flops(dtype: torch.dtype, n: int = 1024, seconds: float = 3.0) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.matmul(a, b)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.matmul(a, b)
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - start)


def forward_flops(model: Any, tokens: int) -> float:
    """2 x (non-embedding weights) per token: the matmuls of a forward pass."""
    params = sum(p.numel() for n, p in model.named_parameters() if "embed_tokens" not in n)
    return 2.0 * params * tokens


def legacy(st: Any, texts: list[str], block: int = 1000) -> float:
    """docs/s of the path before issue 10: merged fp32 weights under bf16 autocast,
    scored one checkpoint block at a time with batch 32 (tokenising in line)."""
    model = load_trained(st, "m")
    scorer = model.scorer
    assert isinstance(scorer, ClassifierScorer)
    scorer.model = scorer.model.merge_and_unload().eval()
    start = time.perf_counter()
    for i in range(0, len(texts), block):
        scorer.scores(texts[i:i + block], 32)
    return len(texts) / (time.perf_counter() - start)


def fp32_labels(st: Any, texts: list[str], name: str = "m") -> list[int]:
    """Top labels of the merged model in fp32, no autocast: the reference for agreement."""
    model = load_trained(st, name)
    scorer = model.scorer
    assert isinstance(scorer, ClassifierScorer)
    scorer.model = scorer.model.merge_and_unload().eval()
    scorer.bf16 = False
    result: list[int] = scorer.scores(texts, 64).argmax(1).tolist()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=600)
    ap.add_argument("--train-size", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--out", type=Path, default=RESULTS / "classify.json")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-classify-"))
    df = pd.read_csv(bills_path())
    df = df[df.major_topic != 99]
    st = study_mod.init(root / "study")
    df.head(args.train_size + 100).to_csv(root / "train.csv", index=False)
    importer.import_file(st, root / "train.csv", text="text", id="id", labels="major_topic")
    train(st, "m", TrainConfig(epochs=1, train_size=args.train_size, batch_size=16))
    docs = df.iloc[len(df) - args.docs:]  # titles the model never saw
    corpus = root / "corpus.csv"
    docs[["id", "text"]].to_csv(corpus, index=False)
    texts = docs.text.tolist()
    load_before = os.getloadavg()
    peak_bf16 = matmul_flops(torch.bfloat16)
    peak_fp32 = matmul_flops(torch.float32)
    before = legacy(st, texts)
    result = classify(st, "m", root / "out.parquet", input=corpus, id_column="id",
                      batch_size=args.batch_size)
    after = result.docs_per_s
    out_labels = pd.read_parquet(root / "out.parquet")["labels"].astype(str).tolist()
    codes = load_trained(st, "m").codes
    reference = [codes[i] for i in fp32_labels(st, texts)]
    agreement = sum(a == b for a, b in zip(out_labels, reference, strict=True)) / len(texts)
    model = load_trained(st, "m")
    scorer = model.scorer
    assert isinstance(scorer, ClassifierScorer)
    ids = scorer.encode(texts).windows
    padded = 0
    for batch in length_batches([len(x) for x in ids], args.batch_size):
        padded += len(batch) * max(len(ids[i]) for i in batch)
    achieved = forward_flops(scorer.model, padded) * after / args.docs
    out = {
        "docs": args.docs, "model": f"embedded, trained 1 epoch on {args.train_size} titles",
        "bf16": scorer.bf16, "device": scorer.device, "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "classify_docs_per_s": after, "before_docs_per_s": before,
        "ratio_vs_before": after / before,
        "label_agreement_with_fp32": agreement,
        "tokens": sum(len(x) for x in ids), "padded_tokens": padded,
        "matmul_peak_bf16_gflops": peak_bf16 / 1e9, "matmul_peak_fp32_gflops": peak_fp32 / 1e9,
        "forward_gflops_achieved": achieved / 1e9,
        "fraction_of_peak": achieved / (peak_bf16 if scorer.bf16 else peak_fp32),
        # The ceiling this CPU allows: every padded token's matmuls at the measured peak.
        "docs_per_s_at_matmul_peak": (peak_bf16 if scorer.bf16 else peak_fp32)
        / (forward_flops(scorer.model, padded) / args.docs),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "note": "after: `classify` (merged bf16 weights, windowed length-sorted batches, "
                "background tokenisation; includes reading input and writing Parquet); "
                "before: merged fp32 weights under autocast, per 1000-doc block, batch 32, "
                "scoring only. Load averages noted: other engineers may share the 2 cores.",
    }
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
