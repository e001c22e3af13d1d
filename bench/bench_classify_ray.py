"""docs/s of `classify --engine ray` (1 and 2 workers) against the local engine, in one run
on the same titles, and the engine's overhead per document.

A classifier is trained quickly on the packaged demo sample (quality is beside the point:
the compute is that of any trained classifier), then US bill titles are classified by the
local engine, by Ray with 1 worker and by Ray with 2 workers on a local Ray with 2 CPUs,
every process with the same torch threads (BENCH_THREADS, default 1). Wall times include
model loading (and, for Ray, the actors' start); steady-state rates are documents over
scoring time. The outputs are compared (labels identical, largest score difference).
Writes bench/results/classify_ray[_BASE].json. Usage:
  .venv/bin/python bench/bench_classify_ray.py [--docs 20000] [--base tiny|embedded]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

# Every engine runs with the same torch threads per process (BENCH_THREADS, default 1): on
# this shared 2-core machine 2 OpenMP threads per process ran 5-20x slower than 1 while
# other jobs held the cores (measured), which would make any comparison meaningless.
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
os.environ["OMP_NUM_THREADS"] = str(THREADS)

from replicoder import importer  # noqa: E402
from replicoder import study as study_mod  # noqa: E402
from replicoder.classify.local import classify  # noqa: E402
from replicoder.models.tiny import build_tiny  # noqa: E402
from replicoder.train import TrainConfig, train  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "us_congress_bills.csv.gz"
SAMPLE = Path(str(resources.files("replicoder") / "data" / "cap_bills_sample.csv"))
RESULTS = Path(__file__).parent / "results"


def titles(n: int) -> pd.DataFrame:
    if not DATA.is_file():
        sys.exit(f"{DATA} is missing: get us_congress_bills.csv.gz (Comparative Agendas "
                 "Project, US Congressional Bills) and put it there")
    df = pd.read_csv(DATA)[["id", "text"]]
    copies = -(-n // len(df))
    big = pd.concat([df] * copies, ignore_index=True).head(n)
    return big.assign(id=[f"{i}-{k}" for k, i in enumerate(big.id)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--base", choices=["tiny", "embedded"], default="tiny")
    ap.add_argument("--block", type=int, default=1000)
    args = ap.parse_args()
    import ray
    import torch

    from replicoder.classify.ray_engine import classify_ray

    torch.set_num_threads(THREADS)

    root = Path(tempfile.mkdtemp(prefix="bench-classify-ray-"))
    base = str(build_tiny(root / "tiny")) if args.base == "tiny" else "embedded"
    st = study_mod.init(root / "study")
    importer.import_file(st, SAMPLE, text="text", id="id", labels="major_topic")
    started = time.perf_counter()
    train(st, "m", TrainConfig(base=base, epochs=1, train_size=64, batch_size=16))
    train_s = time.perf_counter() - started
    corpus = root / "corpus.csv"
    titles(args.docs).to_csv(corpus, index=False)

    started = time.perf_counter()
    local = classify(st, "m", root / "local.parquet", input=corpus, id_column="id",
                     checkpoint_every=args.block)
    local_wall = time.perf_counter() - started
    results: dict[str, Any] = {
        "local": {"wall_s": local_wall, "docs_per_s_wall": args.docs / local_wall,
                  "docs_per_s_steady": local.docs_per_s,
                  "threads": local.manifest["torch_threads"]},
    }
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - started
    reference = pd.read_parquet(root / "local.parquet").set_index("id")
    scores = [c for c in reference.columns if c.startswith("score_")]
    try:
        for workers in (1, 2):
            started = time.perf_counter()
            got = classify_ray(st, "m", corpus, root / f"ray{workers}", id_column="id",
                               workers=workers, cpus_per_worker=THREADS,
                               block_rows=args.block)
            wall = time.perf_counter() - started
            per = got.manifest["per_worker"]
            out = pd.read_parquet(root / f"ray{workers}").set_index("id").loc[reference.index]
            results[f"ray_{workers}"] = {
                "wall_s": wall, "docs_per_s_wall": args.docs / wall,
                "per_worker": per,
                "docs_per_s_steady": sum(w["docs_per_s"] for w in per.values()),
                "threads_per_worker": got.manifest["threads_per_worker"],
                "labels_identical_to_local": bool((out.labels == reference.labels).all()),
                "max_abs_score_difference": float(
                    (out[scores] - reference[scores]).abs().to_numpy().max()),
                "documents": got.documents,
            }
    finally:
        ray.shutdown()
    local_rate = results["local"]["docs_per_s_wall"]
    for workers in (1, 2):
        r = results[f"ray_{workers}"]
        r["ratio_vs_local_wall"] = r["docs_per_s_wall"] / local_rate
        r["ratio_vs_local_steady"] = r["docs_per_s_steady"] / \
            results["local"]["docs_per_s_steady"]
    out_json = {
        "docs": args.docs, "base": args.base, "block_rows": args.block,
        "train_seconds": train_s, "ray_start_s": ray_start, **results,
        "overhead_ms_per_doc_wall": 1000 * (results["ray_1"]["wall_s"] - local_wall)
        / args.docs,
        "overhead_ms_per_doc_steady": 1000 * (1 / results["ray_1"]["docs_per_s_steady"]
                                              - 1 / results["local"]["docs_per_s_steady"]),
        "torch_threads_per_process": THREADS,
        "machine": "2 CPU cores shared with other engineers' jobs; local Ray num_cpus=2",
        "note": "wall includes model load and, for Ray, actor start; ray_start_s (ray.init) "
                "is paid once per job and not included",
    }
    print(json.dumps(out_json, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "classify_ray.json" if args.base == "tiny" else f"classify_ray_{args.base}.json"
    (RESULTS / name).write_text(json.dumps(out_json, indent=2) + "\n")


if __name__ == "__main__":
    main()
