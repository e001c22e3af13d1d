"""Classify throughput on short documents: the windowed scorer of issue 31 against the path
before it (tokenise with truncation at 64, length-sorted batches, softmax per batch).

Both score the same bill titles with the embedded model's body and a fresh head (weights
cast to bf16 where the CPU computes bf16, as ``classify`` does), taking turns ``--repeat``
times; auto length gives titles 64 tokens, as before. ``--template auto`` (the default) is
what ``train`` chooses for a study of these titles (train.lengths.choose_template: the bare
text for 1,000 or more training titles; ``--trained-on``, default all the bills in the
file); --template '{text}\\nLabel:' shows the cue's cost. Writes
bench/results/long_titles.json.

    nice .venv/bin/python bench/bench_long_titles.py --titles 600 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from data import bills_path

from replicoder import atomic
from replicoder.models.base import load_sequence_classifier, load_tokenizer, resolve
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.length import choose_length, context_of, measure
from replicoder.models.runtime import cpu_has_bf16, length_batches
from replicoder.run import PACKAGES, versions
from replicoder.train.lengths import choose_template

RESULTS = Path(__file__).parent / "results"


def before(scorer: ClassifierScorer, texts: list[str], batch_size: int) -> np.ndarray:
    """The scoring path before issue 31."""
    enc = scorer.tokenizer(texts, truncation=True, max_length=scorer.max_length)["input_ids"]
    ids = [list(x) for x in enc]
    out = np.zeros((len(ids), scorer.model.config.num_labels), dtype=np.float32)
    parts: list[Any] = []
    order: list[int] = []
    with torch.inference_mode():
        for batch in length_batches([len(x) for x in ids], batch_size):
            parts.append(scorer.logits([ids[i] for i in batch]).softmax(-1))
            order.extend(batch)
        out[order] = torch.cat(parts).cpu().numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=RESULTS / "long_titles.json")
    parser.add_argument("--template", default="auto",
                        help="the windowed scorer's template (auto: as train chooses for "
                             "--trained-on training titles; '{text}\\nLabel:': the cue's "
                             "cost); the path before reads the bare text")
    parser.add_argument("--trained-on", type=int, default=None,
                        help="training titles behind the model (template auto); default: "
                             "all the bills in the file")
    args = parser.parse_args()
    bills = pd.read_csv(bills_path())
    texts = bills.text.head(args.titles).tolist()
    trained_on = args.trained_on or len(bills)
    base = resolve("embedded")
    tok = load_tokenizer(base)
    tok.padding_side = "right"
    bare = measure(tok, texts)
    length = choose_length(bare, context_of(base.path))
    template = args.template.replace("\\n", "\n")
    if template == "auto":
        template = choose_template(trained_on, int(np.median(bare)))[0]
    bf16 = cpu_has_bf16()
    model = load_sequence_classifier(base, 20, multi_label=False, device="cpu").eval()
    if bf16:
        model = model.to(torch.bfloat16)
    scorer = ClassifierScorer(model, tok, False, length, "cpu", bf16, template)
    times: dict[str, list[float]] = {"before": [], "now": []}
    results: dict[str, np.ndarray] = {}
    load = os.getloadavg()
    for _ in range(args.repeat):
        for name in times:
            t = time.perf_counter()
            if name == "now":
                results[name] = scorer.scores(texts, args.batch_size)
            else:
                results[name] = before(scorer, texts, args.batch_size)
            times[name].append(time.perf_counter() - t)
    rate = {k: args.titles / float(np.median(v)) for k, v in times.items()}
    out = {"benchmark": "long_titles", "created_at": datetime.now(UTC).isoformat(
        timespec="seconds"), "args": {k: str(v) for k, v in vars(args).items()},
        "auto_max_length": length, "template": template, "trained_on": trained_on,
        "median_tokens": int(np.median(bare)),
        "bf16": bf16, "threads": torch.get_num_threads(),
        "load_before": list(load), "load_after": list(os.getloadavg()),
        "docs_per_s_before": rate["before"], "docs_per_s_now": rate["now"],
        "seconds": times, "now_over_before_ratio": rate["now"] / rate["before"],
        "same_labels": float((results["now"].argmax(1) == results["before"].argmax(1)).mean()),
        "max_abs_score_difference": float(np.abs(results["now"] - results["before"]).max()),
        "versions": versions(PACKAGES)}
    atomic.write_text(args.out, json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k not in ("versions", "seconds")}))


if __name__ == "__main__":
    main()
