"""One GPU check for issue 10: the device's bf16 matmul rate, training steps/s and
tokens/s, 3-epoch reference-split accuracy and time for both modes, classify docs/s on
>= 100k titles (the 4,449 bill titles repeated), and bf16 vs fp32 label agreement.

Run through bench/gpu_check.sh on the GPU machine (no registry: see ../shared/MODELS.md,
"On a GPU"). ``--tiny`` runs every step on a tiny random model with small sizes, so the
script itself can be checked on a CPU. Writes bench/results/gpu_check.json (or --out).
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
import torch
from bench_classify import fp32_labels
from bench_train import reference_split
from data import bills_path

from replicoder import importer
from replicoder import study as study_mod
from replicoder.classify.inference import load_model
from replicoder.classify.local import classify
from replicoder.metrics.labelsets import headline
from replicoder.models import load_trained
from replicoder.models.base import load_tokenizer, resolve
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.runtime import pick_device
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train

RESULTS = Path(__file__).parent / "results"


def matmul_rate(device: str, n: int, seconds: float = 2.0) -> float:
    """bf16 dense matmul FLOP/s on ``device``, measured now."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    torch.matmul(a, b)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            torch.matmul(a, b)
        count += 10
        sync()
    return 2 * n**3 * count / (time.perf_counter() - start)


def fit(st: Any, base: str, mode: str, epochs: int, train_ids: list[str], precision: str,
        batch_size: int, test: pd.DataFrame, codes: list[str]) -> dict[str, Any]:
    config = TrainConfig(base=base, mode=mode, epochs=epochs, precision=precision,
                         batch_size=batch_size)
    name = f"gpu-{mode}-{precision}"
    t = time.perf_counter()
    result = train(st, name, config, train_ids=train_ids)
    wall = time.perf_counter() - t
    tok = load_tokenizer(resolve(base))
    with st.store() as store:
        texts = [d.text for d in store.documents(train_ids)]
    tokens = sum(min(len(x), config.max_length)
                 for x in tok(texts, add_special_tokens=False)["input_ids"])
    steps, seconds = result.metrics["steps"], result.metrics["train_seconds"]
    pred = load_trained(st, name).predict(test.text.tolist(), test.id.astype(str).tolist())
    truth = [frozenset([str(t)]) for t in test.major_topic]
    return {"name": name, "wall_seconds": wall, "train_seconds": seconds, "steps": steps,
            "steps_per_s": steps / seconds,
            # document tokens (the generative prompt template adds its own on top)
            "text_tokens_per_s": tokens / len(texts) * steps * batch_size / seconds,
            "test": headline(truth, pred.labels, codes), "device": result.manifest["device"],
            "bf16": result.manifest["bf16"]}


def agreement(st: Any, name: str, texts: list[str]) -> float:
    """Top-label agreement of the merged bf16 model (as classify loads it) with fp32."""
    fast = load_model(st, name)
    assert isinstance(fast.scorer, ClassifierScorer)
    a = fast.scorer.scores(texts, 256).argmax(1)
    return float(np.mean(a == np.array(fp32_labels(st, texts, name))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="tiny model and sizes (CPU check)")
    ap.add_argument("--docs", type=int, default=102_400)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--classify-batch", type=int, default=512)
    ap.add_argument("--out", type=Path, default=RESULTS / "gpu_check.json")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    device = pick_device()
    base = str(build_tiny(root / "tiny")) if args.tiny else "embedded"
    docs = 500 if args.tiny else args.docs
    out: dict[str, Any] = {"device": device, "tiny": args.tiny, "torch": torch.__version__,
                           "gpu": torch.cuda.get_device_name() if device == "cuda" else None}
    out["bf16_matmul_tflops"] = matmul_rate(device, 512 if args.tiny else 8192) / 1e12
    print(json.dumps(out), flush=True)
    df, parts = reference_split(300)
    st = study_mod.init(root / "study")
    importer.import_file(st, bills_path(), text="text", id="id", labels="major_topic",
                         unknown_labels="drop")
    with st.store() as store:
        store.add_split(dict(parts), 0)
    train_ids = [d for d, p in parts.items() if p == "train"]
    test = df[df.id.astype(str).map(parts) == "test"]
    if args.tiny:
        train_ids, test = train_ids[:64], test.head(50)
    epochs = 1 if args.tiny else args.epochs
    for mode in ("classifier", "generative"):
        out[mode] = fit(st, base, mode, epochs, train_ids, "auto", args.batch_size, test,
                        st.codebook.codes)
        print(mode, json.dumps(out[mode]), flush=True)
    corpus = root / "corpus.csv"
    reps = -(-docs // len(df))
    big = pd.concat([df[["id", "text"]]] * reps, ignore_index=True).head(docs)
    big["id"] = np.arange(len(big))
    big.to_csv(corpus, index=False)
    result = classify(st, out["classifier"]["name"], root / "out.parquet", input=corpus,
                      id_column="id", batch_size=args.classify_batch, checkpoint_every=10_000)
    out["classify"] = {"docs": result.documents, "seconds": result.seconds,
                       "docs_per_s": result.docs_per_s, "batch_size": args.classify_batch}
    sample = df.text.head(200 if args.tiny else 4000).tolist()
    out["bf16_vs_fp32_label_agreement"] = agreement(st, out["classifier"]["name"], sample)
    print(json.dumps(out, indent=2, default=str))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
