"""Classify throughput of the embedded model: the `classify` path (length-bucketed
batches, dynamic padding, inference_mode, bf16 where available) against a naive loop
(batch 1, no bucketing) in the same run, and as a fraction of this machine's dense
matmul FLOP/s, measured in the same run.

A classifier is first trained for a few steps (quality is irrelevant here; the compute
is that of any trained classifier). Writes bench/results/classify.json. Usage:
  .venv/bin/python bench/bench_classify.py [--docs 1000] [--naive 100]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from data import bills_path

from replicoder import importer
from replicoder import study as study_mod
from replicoder.classify import classify
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


def naive(scorer: ClassifierScorer, texts: list[str], bf16: bool) -> tuple[float, int]:
    """docs/s of a plain loop: one document at a time, no padding tricks."""
    tokens = 0
    start = time.perf_counter()
    with torch.inference_mode():
        for text in texts:
            enc = scorer.tokenizer(text, truncation=True, max_length=scorer.max_length,
                                   return_tensors="pt")
            tokens += int(enc["input_ids"].shape[1])
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                scorer.model(**enc).logits.float().softmax(-1)
    return len(texts) / (time.perf_counter() - start), tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--naive", type=int, default=100)
    ap.add_argument("--out", type=Path, default=RESULTS / "classify.json")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-classify-"))
    df = pd.read_csv(bills_path())
    df = df[df.major_topic != 99]
    st = study_mod.init(root / "study")
    df.head(200).to_csv(root / "train.csv", index=False)
    importer.import_file(st, root / "train.csv", text="text", id="id", labels="major_topic")
    train(st, "m", TrainConfig(epochs=1, train_size=32, batch_size=16))
    corpus = root / "corpus.csv"
    df.head(args.docs)[["id", "text"]].to_csv(corpus, index=False)
    peak_bf16 = matmul_flops(torch.bfloat16)
    peak_fp32 = matmul_flops(torch.float32)
    result = classify(st, "m", root / "out.parquet", input=corpus, id_column="id")
    model = load_trained(st, "m")
    scorer = model.scorer
    assert isinstance(scorer, ClassifierScorer)
    texts = df.text.head(args.docs).tolist()
    ids = scorer.encode(texts)
    tokens = sum(len(x) for x in ids)
    padded = 0
    for batch in length_batches([len(x) for x in ids], 32):
        padded += len(batch) * max(len(ids[i]) for i in batch)
    naive_fp32, naive_tokens = naive(scorer, texts[: args.naive], bf16=False)
    naive_bf16, _ = naive(scorer, texts[: args.naive], bf16=True)
    achieved = forward_flops(scorer.model, padded) * result.docs_per_s / args.docs
    out = {
        "docs": args.docs, "bf16": scorer.bf16, "device": scorer.device,
        "threads": torch.get_num_threads(),
        "classify_docs_per_s": result.docs_per_s,
        "naive_batch1_fp32_docs_per_s": naive_fp32,
        "naive_batch1_bf16_docs_per_s": naive_bf16,
        "ratio_vs_naive_fp32": result.docs_per_s / naive_fp32,
        "ratio_vs_naive_bf16": result.docs_per_s / naive_bf16,
        "tokens": tokens, "padded_tokens": padded,
        "matmul_peak_bf16_gflops": peak_bf16 / 1e9, "matmul_peak_fp32_gflops": peak_fp32 / 1e9,
        "forward_gflops_achieved": achieved / 1e9,
        "fraction_of_peak": achieved / (peak_bf16 if scorer.bf16 else peak_fp32),
        "note": "classify time includes reading input and writing Parquet parts",
    }
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
