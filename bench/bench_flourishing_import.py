"""Replay the paper's human-flourishing review: import its 10,000 tweets, the 26,635 LLM
proposals and each coder's accept/reject (import-proposals), then the per-annotator
acceptance rates and coder agreement, against the paper's 76% (GPT-4) and 32% (LLaMA-2).

Baseline, in the same run: the same rates computed straight from the CSV with pandas.
Data: ../shared/data/flourishing/ beside the repository (or REPLICODER_FLOURISHING), from
github.com/siacus/rethinking-scale, folder flourishing/ (CC BY 4.0, Carammia, Iacus, Porro).
The sample repeats 5 ids with different texts (e.g. 1631456172346679302, a trailing link);
the first of each is kept. Writes bench/results/flourishing_import.json.
Usage: .venv/bin/python bench/bench_flourishing_import.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from data import flourishing_dir

from replicoder import importer
from replicoder import study as study_mod
from replicoder.datasets.flourishing import source
from replicoder.review.acceptance import acceptance_data
from replicoder.review.replay import import_proposals
from replicoder.run import now

RESULTS = Path(__file__).parent / "results" / "flourishing_import.json"
PAPER = {"GPT4": 0.76, "LLAMA2": 0.32}


def baseline(codings: Path) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    df = pd.read_csv(codings, dtype=str, keep_default_na=False)
    rates = {llm: {"accepted": int((g.accepted == "Y").sum()), "n": len(g)}
             for llm, g in df.groupby("llm")}
    return rates, time.perf_counter() - start


def main() -> None:
    src = flourishing_dir("sample", "all-llms-codings")
    codings = source(src, "all-llms-codings")
    with tempfile.TemporaryDirectory() as tmp:
        tweets = Path(tmp) / "tweets.csv"
        pd.read_csv(source(src, "sample"), dtype=str, keep_default_na=False).drop_duplicates(
            "message_id").to_csv(tweets, index=False)
        st = study_mod.init(Path(tmp) / "study", "flourishing")
        start = time.perf_counter()
        docs = importer.import_file(st, tweets, text="tweet_text", id="message_id")
        t_docs = time.perf_counter() - start
        start = time.perf_counter()
        replay = import_proposals(st, codings, doc_column="id", label_column="dimension",
                                  intensity_column="value", annotator_column="llm",
                                  decision_column="accepted", coder_column="coder")
        t_replay = time.perf_counter() - start
        start = time.perf_counter()
        with st.store() as store:
            data = acceptance_data(store, seed=0)
            verified = store.verified()
        t_rates = time.perf_counter() - start
        again = import_proposals(st, codings, doc_column="id", label_column="dimension",
                                 intensity_column="value", annotator_column="llm",
                                 decision_column="accepted", coder_column="coder")
    direct, t_base = baseline(codings)
    rates = {a["annotator"]: a for a in data["acceptance"]}
    for llm, want in direct.items():
        assert (rates[llm]["accepted"], rates[llm]["n"]) == (want["accepted"], want["n"]), llm
    result = {
        "created_at": now(),
        "documents": docs.added, "rows": replay.rows, "proposals": replay.proposals,
        "decisions": replay.decisions_added, "decisions_unclear": replay.unclear,
        "verified": len(verified), "reimport_decisions_added": again.decisions_added,
        "acceptance": data["acceptance"], "accept_agreement": data["accept_agreement"],
        "paper": PAPER,
        "vs_paper_points": {a: round((rates[a]["rate"] - PAPER[a]) * 100, 1) for a in PAPER},
        "seconds": {"import_documents": t_docs, "import_proposals": t_replay,
                    "rates_and_agreement": t_rates, "baseline_pandas": t_base},
        "replay_vs_pandas_ratio": (t_replay + t_rates) / t_base,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    for a in data["acceptance"]:
        print(f"{a['annotator']}: {a['rate']:.1%} of {a['n']:,} accepted "
              f"(95% {a['ci95'][0]:.1%} to {a['ci95'][1]:.1%}); paper {PAPER[a['annotator']]:.0%}")
    agree = data["accept_agreement"]
    print(f"accept agreement: alpha {agree['alpha']:.3f} over {agree['units']:,} units in "
          f"{agree['documents']} tweets judged by two or more coders")
    print(f"replay {t_replay:.2f} s + rates {t_rates:.2f} s = "
          f"{result['replay_vs_pandas_ratio']:.1f} x pandas ({t_base:.2f} s); wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
