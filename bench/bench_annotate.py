"""Annotation with the embedded model (SmolLM2-135M-Instruct), zero-shot, on US bill titles.

Measures, in one run on the same machine:
  - local backend: `annotate` over N titles (default 300, drawn with seed 0 from
    ../shared/data/us_congress_bills.csv.gz) with the built-in "short" prompt, greedy,
    batches of 16: docs/s, share of answers parsed, accuracy against the gold CAP code;
  - baselines in the same run: majority-class accuracy on the same titles, and local
    generation with batch size 1 on the first 16 titles (the batching speed-up);
  - a cached re-run (sends nothing): docs/s, and that it sends 0 requests;
  - HTTP backend: `annotate` against `replicoder serve` (embedded model, loopback) on the
    first M of the same titles (default 20): docs/s and agreement with the local answers.
All model work uses one CPU thread (serve through OMP_NUM_THREADS=1): on this shared 2-core
machine two threads made generation ~12x slower (3 s vs 36 s for 3 titles x 8 tokens).
Writes bench/results/annotate.json. Usage:
  .venv/bin/python bench/bench_annotate.py [--n 300] [--http-n 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from data import bills_path

from replicoder import importer
from replicoder import run as manifest
from replicoder import study as study_mod
from replicoder.annotate.backends.local_hf import LocalBackend
from replicoder.annotate.config import AnnotatorConfig, add_annotator
from replicoder.annotate.jobs import Annotator, choose_documents
from replicoder.annotate.runner import annotate

RESULTS = Path(__file__).parent / "results"
SETTINGS: dict[str, Any] = {"template": "short", "max_tokens": 12, "batch_size": 16,
                            "threads": 1}  # one thread: far faster on a shared 2-core box


def start_serve() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "replicoder.cli", "serve", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url + "/v1"
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("replicoder serve did not start")


def labels_of(st: study_mod.Study, annotator: str
              ) -> dict[str, tuple[frozenset[str], str, str]]:
    """doc_id -> (labels, status, raw answer) of one annotator."""
    with st.store() as store:
        return {p.doc_id: (p.labels, p.status, p.raw)
                for p in store.proposals(annotator=annotator)}


def batch_speed(st: study_mod.Study, ids: list[str], batch: int) -> float:
    ann = Annotator(st, AnnotatorConfig(name="speed", **{**SETTINGS, "batch_size": batch}))
    with st.store() as store:
        jobs = ann.jobs([(d.doc_id, d.text) for d in store.documents(ids)])
    backend = ann.backend
    assert isinstance(backend, LocalBackend)
    backend.load()
    start = time.monotonic()
    for i in range(0, len(jobs), batch):
        backend.complete_batch([j.messages for j in jobs[i : i + batch]])
    return len(jobs) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--http-n", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS / "annotate.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary study")
    args = parser.parse_args()
    bills = bills_path()

    root = Path(tempfile.mkdtemp(prefix="bench-annotate-"))
    st = study_mod.init(root / "study", "cap")
    importer.import_file(st, bills, text="text", id="id", labels="major_topic",
                         unknown_labels="drop")
    add_annotator(st, AnnotatorConfig(name="local", **SETTINGS))
    st = study_mod.open_study(st.root)
    with st.store() as store:
        ids = choose_documents(store, None, args.n, 0)
        gold = store.gold(ids)

    baseline_1 = batch_speed(st, ids[:16], 1)
    run = annotate(st, ["local"], sample=args.n, seed=0).annotators[0]
    local = labels_of(st, "local")
    right = sum(local[d][0] == gold[d] for d in ids)
    majority_code, majority_n = Counter(next(iter(g)) for g in gold.values()).most_common(1)[0]
    answered = Counter(next(iter(lab)) for lab, status, _ in local.values() if status == "ok")

    start = time.monotonic()
    rerun = annotate(st, ["local"], sample=args.n, seed=0).annotators[0]
    rerun_s = time.monotonic() - start

    proc, url = start_serve()
    try:
        add_annotator(st, AnnotatorConfig(name="http", backend="openai", model="embedded",
                                          base_url=url, max_concurrency=2, **{
                                              k: v for k, v in SETTINGS.items()
                                              if k not in ("batch_size", "threads")}))
        st = study_mod.open_study(st.root)
        http = annotate(st, ["http"], sample=args.n, seed=0, limit=args.http_n).annotators[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    remote = labels_of(st, "http")
    same = sum(remote[d][0] == local[d][0] for d in remote)
    same_raw = sum(remote[d][2] == local[d][2] for d in remote)  # batched vs one at a time

    result = {
        "benchmark": "annotate",
        "created_at": manifest.now(),
        "machine": {"cpus": os.cpu_count(), "device": "cpu"},
        "model": "embedded (SmolLM2-135M-Instruct, float32)",
        "settings": {**SETTINGS, "temperature": 0.0, "documents": args.n, "seed": 0},
        "local": {
            "documents": run.documents, "seconds": round(run.seconds, 1),
            "docs_per_s": round(run.docs_per_s, 3),
            "parsed_share": round(run.ok / run.documents, 3),
            "accuracy": round(right / len(ids), 3),
            "input_tokens_per_doc": round(run.input_tokens / max(run.sent, 1), 1),
            "output_tokens_per_doc": round(run.output_tokens / max(run.sent, 1), 1),
            "answered_codes": dict(answered.most_common()),
        },
        "baselines": {
            "majority_class": majority_code,
            "majority_accuracy": round(majority_n / len(ids), 3),
            "random_accuracy": round(1 / len(st.codebook), 3),
            "local_batch_1_docs_per_s": round(baseline_1, 3),
            "local_batch_16_docs_per_s_same_16": round(batch_speed(st, ids[:16], 16), 3),
        },
        "cached_rerun": {"sent": rerun.sent, "cached": rerun.cached,
                         "docs_per_s": round(args.n / rerun_s, 1)},
        "http_serve": {
            "documents": http.documents, "docs_per_s": round(http.docs_per_s, 3),
            "parsed_share": round(http.ok / max(http.documents, 1), 3),
            "same_labels_as_local": round(same / max(len(remote), 1), 3),
            "same_raw_answer_as_local": round(same_raw / max(len(remote), 1), 3),
        },
    }
    result["ratios"] = {
        "accuracy_over_majority": round(result["local"]["accuracy"]
                                        / max(result["baselines"]["majority_accuracy"], 1e-9),
                                        3),
        "batch_16_over_batch_1": round(result["baselines"]["local_batch_16_docs_per_s_same_16"]
                                       / baseline_1, 2),
        "cached_over_local": round(result["cached_rerun"]["docs_per_s"]
                                   / max(run.docs_per_s, 1e-9), 1),
        "http_over_local": round(http.docs_per_s / max(run.docs_per_s, 1e-9), 3),
    }
    result["versions"] = manifest.versions()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
