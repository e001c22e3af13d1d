"""Zero-shot by label scoring vs free generation, on the demo's study (issue 28).

The demo's study (1,000 shipped bill titles, its fixed split). On its validation titles,
each way of reading label scores is compared: the prompt ("template": annotate's built-in
prompt with descriptions and a JSON answer; "instruction": the short zero-shot
instruction and a bare code; "fewshot": the template with one training title per label
added to the codebook as its example), the answer form (code or name) and the reduction
(summed log-probability, first distinctive token, mean per token), each with and without
content-free calibration. The best on validation is then measured once on the 200 test
titles, beside the majority label's share and free generation (the zero-shot scorer
generating its answer, as `evaluate zero-shot` did before). Bootstrap 95% intervals.
Writes bench/results/label_scoring[_BASE].json. Usage:
  nice .venv/bin/python bench/bench_label_scoring.py [--base embedded] [--validation 100]
  nice .venv/bin/python bench/bench_label_scoring.py --base gemma-270m --validation 40 \
      --prompts template,instruction --threads 1   (-> label_scoring_gemma.json)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from replicoder import atomic
from replicoder.datasets.bills import sample_study
from replicoder.labels.codebook import Codebook
from replicoder.labels.prompts import load_template
from replicoder.metrics import bootstrap_ci
from replicoder.models import resolve
from replicoder.models.base import load_causal_lm, load_tokenizer
from replicoder.models.generative import (
    GenerativeScorer,
    max_answer_tokens,
    read_answer,
    zero_shot_instruction,
)
from replicoder.models.label_scores import REDUCTIONS, LabelScorer, Variant, _unique
from replicoder.splits import ensure_split, split_ids

RESULTS = Path(__file__).parent / "results"


def with_examples(book: Codebook, texts: list[str], gold: list[frozenset[str]]) -> Codebook:
    """The codebook with the first training title of each label as its example."""
    first: dict[str, str] = {}
    for text, codes in zip(texts, gold, strict=True):
        for code in codes:
            first.setdefault(code, text)
    labels = tuple(dataclasses.replace(lab, examples=(first[lab.code],))
                   if lab.code in first else lab for lab in book.labels)
    return dataclasses.replace(book, labels=labels)


def messages_for(prompt: str, book: Codebook, text: str) -> list[dict[str, str]]:
    if prompt == "instruction":
        return [{"role": "system", "content": zero_shot_instruction(book)},
                {"role": "user", "content": text}]
    return load_template("", Path(".")).render(book, text)


def variant_scores(model: Any, tok: Any, book: Codebook, prompt: str, form: str,
                   texts: list[str]) -> dict[str, np.ndarray]:
    """Scores (n, labels) of every reduction, raw and calibrated, from one pass."""
    scorer = LabelScorer(model, tok, book, Variant(form, "sum"),
                         json_answers=prompt != "instruction")
    rows, cf, _ = scorer.rows([messages_for(prompt, book, t) for t in texts],
                              messages_for(prompt, book, ""))
    assert cf is not None
    rest = scorer._answers()[2]
    cut = [_unique(r, rest) for r in rest]

    def reduce(r: list[list[float]], how: str) -> np.ndarray:
        if how == "sum":
            return np.array([sum(x) for x in r])
        if how == "mean":
            return np.array([sum(x) / len(x) for x in r])
        return np.array([sum(x[:n]) for x, n in zip(r, cut, strict=True)])

    out: dict[str, np.ndarray] = {}
    for how in REDUCTIONS:
        raw = np.stack([reduce(r, how) for r in rows])
        out[f"{form}-{how}"] = raw
        out[f"{form}-{how}-cf"] = raw - reduce(cf, how)
    return out


def accuracy(book: Codebook, scores: np.ndarray, gold: list[frozenset[str]]) -> float:
    picks = [book.codes[int(i)] for i in scores.argmax(1)]
    return float(np.mean([p in g for p, g in zip(picks, gold, strict=True)]))


def interval(book: Codebook, gold: list[frozenset[str]], pred: list[frozenset[str]]
             ) -> list[float | None]:
    low, high = bootstrap_ci(gold, pred, book.codes, n_boot=1000)["subset_accuracy"]
    return [low, high]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default="embedded")
    ap.add_argument("--validation", type=int, default=100, help="validation titles used")
    ap.add_argument("--test-limit", type=int, default=None, help="for a quick check")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--prompts", default="template,instruction,fewshot",
                    help="prompts compared on validation (fewer for a slower base)")
    ap.add_argument("--forms", default="code,name", help="answer forms compared")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    study = sample_study(Path(tempfile.mkdtemp(prefix="bench-scoring-")) / "study")
    ensure_split(study)
    book = study.codebook
    with study.store() as store:
        docs = {p: store.documents(split_ids(study, p)) for p in ("train", "validation", "test")}
    val = docs["validation"][: args.validation]
    val_texts, val_gold = [d.text for d in val], [d.gold or frozenset() for d in val]
    test = docs["test"][: args.test_limit]
    test_texts, test_gold = [d.text for d in test], [d.gold or frozenset() for d in test]
    shots = with_examples(book, [d.text for d in docs["train"]],
                          [d.gold or frozenset() for d in docs["train"]])
    base = resolve(args.base)
    tok, model = load_tokenizer(base), load_causal_lm(base, device="cpu").eval()
    load_before = os.getloadavg()

    variants: dict[str, dict[str, Any]] = {}
    prompts = args.prompts.split(",")
    for prompt, used in (("template", book), ("instruction", book), ("fewshot", shots)):
        if prompt not in prompts:
            continue
        for form in args.forms.split(","):
            began = time.monotonic()
            found = variant_scores(model, tok, used, prompt, form, val_texts)
            seconds = time.monotonic() - began
            for spec, scores in found.items():
                picks = Counter(book.codes[int(i)] for i in scores.argmax(1))
                variants[f"{prompt}/{spec}"] = {
                    "accuracy": accuracy(book, scores, val_gold),
                    "commonest_pick_share": picks.most_common(1)[0][1] / len(val_texts),
                    "docs_per_s": len(val_texts) / seconds}
            print(prompt, form, {k: round(v["accuracy"], 3) for k, v in variants.items()
                                 if k.startswith(f"{prompt}/{form}")}, flush=True)
    best = max(variants, key=lambda k: variants[k]["accuracy"])
    prompt, spec = best.split("/")
    used = shots if prompt == "fewshot" else book
    variant = Variant.parse(spec)
    scorer = LabelScorer(model, tok, used, variant, json_answers=prompt != "instruction")
    began = time.monotonic()
    scored = scorer.score([messages_for(prompt, used, t) for t in test_texts],
                          messages_for(prompt, used, ""))
    score_s = time.monotonic() - began
    pred = [s.labels for s in scored]
    acc = float(np.mean([p == g for p, g in zip(pred, test_gold, strict=True)]))

    commonest, count = Counter(next(iter(g)) for g in test_gold).most_common(1)[0]
    majority = [frozenset([commonest])] * len(test_gold)

    gen = GenerativeScorer(model, tok, book, zero_shot_instruction(book), 64,
                           max_answer_tokens(tok, book), "cpu", False)
    began = time.monotonic()
    raw = gen.generate(test_texts, batch_size=16)
    gen_s = time.monotonic() - began
    read = [read_answer(r, book) for r in raw]
    gen_pred = [labels for labels, _ok in read]
    gen_acc = float(np.mean([p == g for p, g in zip(gen_pred, test_gold, strict=True)]))

    result = {
        "base": args.base, "n_validation": len(val_texts), "n_test": len(test_texts),
        "prompts": prompts, "forms": args.forms.split(","), "threads": args.threads,
        "cpu_count": os.cpu_count(), "load_before": load_before,
        "load_after": os.getloadavg(), "created_at": time.strftime("%Y-%m-%d"),
        "validation": variants, "chosen": best,
        "scoring": {"accuracy": acc, "ci95": interval(book, test_gold, pred),
                    "unreadable": 0, "docs_per_s": len(test_texts) / score_s,
                    "commonest_pick_share": Counter(next(iter(p)) for p in pred)
                    .most_common(1)[0][1] / len(pred)},
        "majority_label": {"label": commonest, "share": count / len(test_gold),
                           "ci95": interval(book, test_gold, majority)},
        "generation": {"accuracy": gen_acc, "ci95": interval(book, test_gold, gen_pred),
                       "unreadable": sum(not ok for _labels, ok in read),
                       "docs_per_s": len(test_texts) / gen_s, "examples": raw[:5]},
    }
    result["scoring_vs_majority_ratio"] = acc / result["majority_label"]["share"]
    result["scoring_minus_generation"] = acc - gen_acc
    suffix = {"embedded": "", "gemma-270m": "_gemma"}.get(args.base, f"_{Path(args.base).name}")
    name = "label_scoring" + suffix
    out = RESULTS / f"{name}.json"
    atomic.write_text(out, json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "validation"}, indent=1))


if __name__ == "__main__":
    main()
