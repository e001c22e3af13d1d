"""Review app latency on the 4,419 US bill titles with a half-reviewed study.

Set-up: import the bills, give every bill proposals from three annotators (each the gold
label, or for one in five bills a neighbouring code, so that there is something to reject),
assign two coders with 20% overlap, and record decisions for half of each queue.
Baseline: the library calls behind a page (``session.view`` + ``session.progress``) and a
decision (``session.decide``), in this process without HTTP. Then the same through the real
app over loopback HTTP (uvicorn in a thread): page view, draft save, decide, and the
disagreements page (alpha with a 1,000-sample bootstrap). Median of --repeat calls each.
Writes bench/results/review.json. Usage: .venv/bin/python bench/bench_review.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from data import bills_path
from timing import median_ms

from replicoder import importer
from replicoder import study as study_mod
from replicoder.review import session
from replicoder.review.app import create_app
from replicoder.review.assignment import assign
from replicoder.store import Proposal

RESULTS = Path(__file__).parent / "results"
JSON = {"Content-Type": "application/json", "X-Replicoder": "1"}




def build(root: Path) -> study_mod.Study:
    st = study_mod.init(root, "cap")
    importer.import_file(st, bills_path(), text="text", id="id", labels="major_topic",
                         unknown_labels="drop")
    rng = random.Random(0)
    codes = st.codebook.codes
    with st.store() as store:
        gold = store.gold()
        props = []
        for doc_id, labels in gold.items():
            for name in ("llm_a", "llm_b", "llm_c"):
                code = next(iter(labels))
                if rng.random() < 0.2:
                    code = codes[(codes.index(code) + 1) % len(codes)]
                props.append(Proposal(doc_id, name, frozenset({code}), "ok", code, {}, "t"))
        store.add_proposals(props)
    assign(st, ["anna", "ben"], overlap=0.2, seed=0)
    with st.store() as store:
        for coder in ("anna", "ben"):
            queue = store.queue(coder)
            for doc_id in queue[: len(queue) // 2]:
                keep = next(iter(gold[doc_id]))
                proposed, _, _ = session.proposals_for(store, doc_id)
                rejected = [c for c in proposed if c != keep]
                added = [] if keep in proposed else [keep]
                session.decide(store, st.codebook, coder, doc_id, rejected, added, False, 5.0)
    return st


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        st = build(Path(tmp) / "study")
        setup_s = time.perf_counter() - t
        with st.store() as store:
            nxt = session.next_undecided(store, "anna")
            assert nxt is not None
            decided = len(store.decisions())
            documents = store.count_documents()
            queue = store.queue("anna")
            later = [d for d in queue if d not in {x.doc_id for x in store.decisions("anna")}]

            def library_page() -> None:
                session.view(store, "anna", nxt)
                session.progress(store, "anna")

            base_page = median_ms(library_page, args.repeat)
            it = iter(later[1:])
            base_decide = median_ms(lambda: session.decide(
                store, st.codebook, "anna", next(it), [], [], True, 1.0), args.repeat)

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(st, "anna"), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=JSON) as http:
            body = {"doc_id": nxt, "rejected": [], "added": [], "unclear": False, "seconds": 1}
            http_page = median_ms(lambda: http.get("/c/anna/doc", params={"id": nxt})
                                  .raise_for_status(), args.repeat)
            http_draft = median_ms(lambda: http.post("/api/c/anna/draft", json=body)
                                   .raise_for_status(), args.repeat)
            it2 = iter(later[1 + args.repeat:])
            http_decide = median_ms(lambda: http.post(
                "/api/c/anna/decide", json={**body, "doc_id": next(it2), "unclear": True}
            ).raise_for_status(), args.repeat)
            adjudicate_list = median_ms(lambda: http.get("/c/carla/adjudicate")
                                        .raise_for_status(), max(3, args.repeat // 10))
        server.should_exit = True
        thread.join(10)
    result = {
        "documents": documents, "anna_queue": len(queue), "decisions_before": decided,
        "setup_seconds": round(setup_s, 1), "repeat": args.repeat,
        "baseline_library_page_ms": base_page, "baseline_library_decide_ms": base_decide,
        "http_page_ms": http_page, "http_draft_ms": http_draft, "http_decide_ms": http_decide,
        "http_disagreements_page_ms": adjudicate_list,
        "page_ratio_http_vs_library": round(http_page / base_page, 2),
        "decide_ratio_http_vs_library": round(http_decide / base_decide, 2),
        "machine": platform.platform(), "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "review.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
