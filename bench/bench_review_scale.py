"""Review app page and decision latency at 300k documents (issue 12, item 9).

Set-up: a study with N synthetic documents (default 300,000) written straight to study.db,
proposals for the first 2,000, and 1,000 decisions by coder anna. Measured: the library
calls behind a page (``session.view`` + ``session.progress``) and behind a decision
(``session.decide`` + ``session.next_undecided``), median of --repeat calls, on documents
deep in the queue. Baseline in the same run: the list-based queue the app used before
(``store.queue`` loaded whole, then indexed in Python). Writes
bench/results/review_scale.json. Usage: .venv/bin/python bench/bench_review_scale.py
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from timing import median_ms

from replicoder import study as study_mod
from replicoder.review import session
from replicoder.store import Proposal, Store

RESULTS = Path(__file__).parent / "results"




def build(root: Path, n: int) -> study_mod.Study:
    st = study_mod.init(root, "cap")
    with st.store() as store, store.transaction():
        for start in range(0, n, 50_000):
            store.add_documents([(f"doc{i:07d}", f"Synthetic bill title number {i}.",
                                  f"{i:064x}", {}, None)
                                 for i in range(start, min(n, start + 50_000))])
        store.add_proposals(Proposal(f"doc{i:07d}", "llm", frozenset({"3"}), "ok", "[\"3\"]",
                                     {}, "2026-01-01") for i in range(2000))
    with st.store() as store:
        for i in range(1000):
            session.decide(store, st.codebook, "anna", f"doc{i:07d}", [], [], False, 2.0)
    return st


def old_page(store: Store, coder: str, doc_id: str) -> None:
    """The list-based queue used before issue 12: the whole queue per page."""
    queue = store.queue(coder)
    pos = queue.index(doc_id)
    _ = queue[pos - 1], queue[pos + 1]
    queued = set(queue)
    mine = [d for d in store.decisions(coder) if d.doc_id in queued]
    statistics.median(d.seconds for d in mine)
    decided = store.decided_ids(coder)
    next((d for d in queue if d not in decided), None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        st = build(Path(tmp) / "study", args.documents)
        setup_s = time.perf_counter() - t
        deep = f"doc{args.documents - 10:07d}"
        with st.store() as store:
            page_ms = median_ms(lambda: (session.view(store, "anna", deep),
                                         session.progress(store, "anna")), args.repeat)
            counter = iter(range(1000, 1000 + args.repeat))

            def decide() -> None:
                session.decide(store, st.codebook, "anna", f"doc{next(counter):07d}", [],
                               ["3"], False, 2.0)
                session.next_undecided(store, "anna")

            decide_ms = median_ms(decide, args.repeat)
            baseline_ms = median_ms(lambda: old_page(store, "anna", deep), args.repeat)
    result = {
        "documents": args.documents, "repeat": args.repeat, "setup_s": round(setup_s, 1),
        "page_ms": page_ms, "decide_ms": decide_ms, "baseline_list_queue_page_ms": baseline_ms,
        "speedup_page_vs_baseline": round(baseline_ms / page_ms, 1) if page_ms else None,
        "target_ms": 50, "meets_target": page_ms <= 50 and decide_ms <= 50,
        "machine": platform.platform(), "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "review_scale.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
