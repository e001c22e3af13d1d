"""freeze + reproduce of the demo-sized study against its original evaluate + classify,
in one run; the archive's size; how far scores move when the block size changes.

The demo study (the packaged 1,000-title sample, `replicoder demo`'s data) gets a model
trained quickly (quality is beside the point), then the original work is timed: evaluate
(the model and the TF-IDF baseline, 1,000 bootstrap resamples) and classify of the study's
documents. Then `freeze` and `reproduce` (both steps) are timed, and `reproduce --steps
classify --checkpoint-every 7` measures the largest score difference when blocks and batches
are composed differently. Writes bench/results/reproduce_BASE_PRECISION.json. Usage:
  .venv/bin/python bench/bench_reproduce.py [--base tiny|embedded] [--precision auto|fp32|bf16]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

THREADS = int(os.environ.get("BENCH_THREADS", "1"))
os.environ["OMP_NUM_THREADS"] = str(THREADS)

from replicoder.classify.local import classify  # noqa: E402
from replicoder.datasets.bills import sample_study  # noqa: E402
from replicoder.evaluate.compare import evaluate_models  # noqa: E402
from replicoder.models.tiny import build_tiny  # noqa: E402
from replicoder.replicate.archive import freeze  # noqa: E402
from replicoder.replicate.rerun import reproduce  # noqa: E402
from replicoder.train import TrainConfig, train  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", choices=["tiny", "embedded"], default="tiny")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    parser.add_argument("--train-size", type=int, default=200)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(THREADS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = str(build_tiny(root / "tiny")) if args.base == "tiny" else "embedded"
        st = sample_study(root / "study")
        _, train_s = timed(lambda: train(st, "m", TrainConfig(
            base=base, epochs=1, batch_size=16, train_size=args.train_size,
            precision=args.precision)))
        _, eval_s = timed(lambda: evaluate_models(st, ["m"]))
        done, classify_s = timed(lambda: classify(st, "m", st.root / "coded.parquet"))
        frozen, freeze_s = timed(lambda: freeze(st, root / "study.tar.gz"))
        result, repro_s = timed(lambda: reproduce(frozen.path, root / "rerun"))
        blocks = reproduce(frozen.path, root / "blocks", steps=("classify",),
                           checkpoint_every=7)
        with_weights = freeze(st, root / "weights.tar.gz", include_base_weights=True)
        gap = next(c.value for c in blocks.checks if c.what.startswith("scores"))
        original = eval_s + classify_s
        out = {
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "what": "freeze + reproduce (evaluate and classify) of the demo study vs the "
                    "original evaluate + classify, same run",
            "base": args.base, "precision": done.manifest["precision"],
            "device": done.manifest["device"], "threads": THREADS,
            "documents": done.documents, "train_seconds": train_s,
            "original_seconds": {"evaluate": eval_s, "classify": classify_s},
            "freeze_seconds": freeze_s, "reproduce_seconds": repro_s,
            "ratio_vs_original": (freeze_s + repro_s) / original,
            "archive_bytes": frozen.bytes, "archive_with_base_weights_bytes": with_weights.bytes,
            "reproduce_passed": result.passed,
            "checks": [c.__dict__ for c in result.checks],
            "block_size_7_passed": blocks.passed, "block_size_7_largest_score_gap": gap,
            "block_size_7_checks": [c.__dict__ for c in blocks.checks],
            "warnings": result.warnings,
        }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"reproduce_{args.base}_{args.precision}.json"
    path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k not in ("checks",)}, indent=2,
                     default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
