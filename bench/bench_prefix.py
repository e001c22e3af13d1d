"""Generation with the shared prompt prefix computed once vs each prompt whole.

On N US bill titles (default 96, drawn with seed 0 from ../shared/data/us_congress_bills.csv.gz),
with the embedded model, greedy, in one run on the same machine, the two ways taking turns:
  - the zero-shot scorer's prompt (codebook codes and names, then the title; short answers);
  - the annotators' built-in prompts, "short" (label names) and "default" (with
    descriptions), batches of 8 as `annotate` sends them, 12 new tokens.
Each runs in the precision its command uses on a CPU: zero-shot in bf16 autocast (as
`evaluate` runs it), the annotators in fp32 (the local backend). Reports docs/s both ways,
the speed-up, and the share of identical answers; in bf16 the two ways multiply matrices of
other shapes and rounding flips near-ties (frequent in a weak model's answers), so bf16
cases are also compared in fp32 on the first --exact titles, where they should agree.
Writes bench/results/prefix_cache.json. Usage:
  .venv/bin/python bench/bench_prefix.py [--n 96]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from data import bills_path

from replicoder import atomic
from replicoder.labels.codebook import load
from replicoder.labels.prompts import load_template
from replicoder.models import resolve
from replicoder.models.base import load_causal_lm, load_tokenizer
from replicoder.models.generation import generate
from replicoder.models.generative import (
    GenerativeScorer,
    max_answer_tokens,
    zero_shot_instruction,
)
from replicoder.models.prefix import shared_prefix

RESULTS = Path(__file__).parent / "results"


def timed(run: Callable[[bool], list[str]], rounds: int) -> dict[str, Any]:
    """Seconds of each way, best of ``rounds`` (taking turns), and their answers."""
    seconds: dict[bool, list[float]] = {True: [], False: []}
    answers: dict[bool, list[str]] = {}
    for _ in range(rounds):
        for share in (False, True):
            t = time.perf_counter()
            answers[share] = run(share)
            seconds[share].append(time.perf_counter() - t)
    same = sum(a == b for a, b in zip(answers[True], answers[False], strict=True))
    whole, shared = min(seconds[False]), min(seconds[True])
    n = len(answers[True])
    return {"whole_seconds": whole, "shared_seconds": shared,
            "whole_docs_per_s": n / whole, "shared_docs_per_s": n / shared,
            "shared_over_whole_ratio": whole / shared, "same_answers": same, "n": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--exact", type=int, default=32,
                        help="titles generated both ways in fp32 too")
    parser.add_argument("--out", type=Path, default=RESULTS / "prefix_cache.json")
    args = parser.parse_args()
    titles = pd.read_csv(bills_path()).sample(args.n, random_state=0).text.tolist()
    base = resolve("embedded")
    tok, model = load_tokenizer(base), load_causal_lm(base, device="cpu").eval()
    book = load("cap")
    out: dict[str, Any] = {"n_titles": args.n, "rounds": args.rounds,
                           "cpu_count": os.cpu_count(), "load_before": os.getloadavg(),
                           "created_at": time.strftime("%Y-%m-%d")}
    scorer = GenerativeScorer(model, tok, book, zero_shot_instruction(book), 64,
                              max_answer_tokens(tok, book), "cpu", True)
    zero = [scorer.prompt_ids(t) for t in titles]
    cases: dict[str, tuple[list[list[int]], int, int, bool]] = {
        "zero_shot": (zero, scorer.max_new_tokens, 32, True)}
    for spec in ("short", "default"):
        template = load_template(spec, Path("."))
        cases[f"annotate_{spec}"] = ([list(tok(tok.apply_chat_template(
            template.render(book, t), add_generation_prompt=True, tokenize=False),
            add_special_tokens=False)["input_ids"]) for t in titles], 12, 8, False)
    for name, (prompts, new, batch, half) in cases.items():
        def run(share: bool, prompts: list[list[int]] = prompts, new: int = new,
                batch: int = batch, bf16: bool = half) -> list[str]:
            texts: list[str] = []
            for i in range(0, len(prompts), batch):  # one generate() call per batch, as
                texts += [g.text for g in generate(  # annotate sends them
                    model, tok, prompts[i:i + batch], max_new_tokens=new, batch_size=batch,
                    bf16=bf16, share_prefix=share)]
            return texts
        lengths = [len(p) for p in prompts]
        out[name] = {"prompt_tokens_mean": sum(lengths) / len(lengths),
                     "shared_prefix_tokens": shared_prefix(prompts), "max_new_tokens": new,
                     "batch_size": batch, "bf16": half, **timed(run, args.rounds)}
        if half:
            exact = [run(share, prompts[:args.exact], bf16=False) for share in (False, True)]
            out[name].update(fp32_same_answers=sum(
                a == b for a, b in zip(*exact, strict=True)), fp32_n=len(exact[0]))
        print(name, json.dumps(out[name]), flush=True)
    out["load_after"] = os.getloadavg()
    atomic.write_text(args.out, json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
