"""The label's only cue at the end of a 2,000-token document: ``--long chunk`` must find
it, ``truncate`` cannot. Synthetic documents (filler words, then one cue word per topic as
the last word; tests/long_docs.py), the tiny random model of the embedded architecture
trained briefly with each setting on the same documents, accuracy on held-out documents of
the same kind (chance: 0.25). The tiny model has learnt nothing else: this measures the
plumbing of reading a document whole, not quality. Writes bench/results/long_cue.json.

    nice .venv/bin/python bench/bench_long_cue.py --per-topic 12 --epochs 6
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from long_docs import cue_at_end  # noqa: E402

from replicoder import atomic, importer  # noqa: E402
from replicoder import study as study_mod  # noqa: E402
from replicoder.models import load_trained  # noqa: E402
from replicoder.models.base import load_tokenizer, resolve  # noqa: E402
from replicoder.models.chunks import POOLING  # noqa: E402
from replicoder.models.length import measure  # noqa: E402
from replicoder.models.tiny import build_tiny  # noqa: E402
from replicoder.run import PACKAGES, versions  # noqa: E402
from replicoder.train import TrainConfig, train  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-topic", type=int, default=12)
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--at-start", action="store_true",
                        help="control: the cue is the first word (truncate can read it)")
    parser.add_argument("--keep-last", action="store_true",
                        help="train on training + validation documents and keep the last "
                             "weights (refit), instead of the best on validation")
    parser.add_argument("--only", choices=["truncate", "chunk"], default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "long_cue.json")
    args = parser.parse_args()
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cue-") as tmp:
        tiny = str(build_tiny(Path(tmp) / "tiny"))
        docs = cue_at_end(per_topic=args.per_topic, words=args.words, at_start=args.at_start)
        test = cue_at_end(per_topic=5, words=args.words, seed=1, at_start=args.at_start)
        lengths = measure(load_tokenizer(resolve(tiny)), docs.text.tolist())
        st = study_mod.init(Path(tmp) / "study")
        docs.to_csv(Path(tmp) / "docs.csv", index=False)
        importer.import_file(st, Path(tmp) / "docs.csv", text="text", id="id",
                             labels="major_topic")
        for long in [args.only] if args.only else ["truncate", "chunk"]:
            started = time.perf_counter()
            result = train(st, long, TrainConfig(
                base=tiny, epochs=args.epochs, batch_size=8, lr=3e-3, head_lr=1e-2,
                max_length=args.max_length, long=long, precision="fp32",
                refit=args.keep_last))
            minutes = (time.perf_counter() - started) / 60
            pred = load_trained(st, long).predict(test.text.tolist(), test.id.tolist())
            truth = [str(t) for t in test.major_topic]
            acc = sum(next(iter(p), "") == t for p, t in zip(pred.labels, truth, strict=True))
            runs[long] = {"test_accuracy": acc / len(truth), "train_minutes": minutes,
                          "validation_accuracy": result.metrics["subset_accuracy"],
                          "steps": result.metrics["steps"],
                          "n_train": result.manifest["data"]["n_train"]}
            print(long, runs[long], flush=True)
    out = {"benchmark": "long_cue", "created_at": datetime.now(UTC).isoformat(
        timespec="seconds"), "args": {k: str(v) for k, v in vars(args).items()},
        "tokens_min": min(lengths), "tokens_median": sorted(lengths)[len(lengths) // 2],
        "n_test": 20, "chance": 0.25, "pooling": POOLING, "load": list(os.getloadavg()),
        "runs": runs,
        "versions": versions(PACKAGES)}
    if len(runs) == 2:
        out["chunk_over_truncate_accuracy_ratio"] = runs["chunk"]["test_accuracy"] / max(
            runs["truncate"]["test_accuracy"], 1e-9)
    atomic.write_text(args.out, json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
