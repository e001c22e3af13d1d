"""Operators per classifier training step, before and after issue 26, on the CPU.

On a GPU a step of the 135M embedded model is launch-bound: each operator costs the host
~20 µs to launch whatever its size. This counts them on the CPU, in the configuration a
GPU trains in (bf16 base weights under autocast, SDPA attention, LoRA on every layer, a
batch of 16 bill titles, fused AdamW), for the path before issue 26 (tokenizer padding
with a mask, peft's casts of each adapter input, targets indexed on the device) and the
path now (host padding, SDPA's causal kernel without a mask, no input casts, host
targets copied once, bf16 trainable weights with fp32 masters: train.master).
The headline is the operators that launch a kernel (views left out: ~7,000 before, the
count issue 26 quotes); all operators are also counted as dispatched (TorchDispatchMode:
what reaches the kernels, forward and backward) and as recorded by torch.profiler (all
aten events, nested ones included). Writes bench/results/step_ops.json. Usage:
  .venv/bin/python bench/bench_step_ops.py [--steps 3] [--base embedded]
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from data import bills_path
from torch.utils._python_dispatch import TorchDispatchMode

from replicoder import atomic
from replicoder.models.base import load_sequence_classifier, load_tokenizer, resolve
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.fastpath import (
    SYNC_OPS,
    needs_padding_mask,
    skip_input_casts,
    use_causal_attention,
)
from replicoder.models.runtime import autocast, to_device
from replicoder.train import TrainConfig
from replicoder.train.master import Masters

RESULTS = Path(__file__).parent / "results"
CASTS = {"aten::_to_copy", "aten::to", "aten::copy_"}
# operators that only make a view (no kernel runs on a GPU); the rest launch kernels
VIEWS = {"aten::t", "aten::view", "aten::_unsafe_view", "aten::detach", "aten::transpose",
         "aten::slice", "aten::unsqueeze", "aten::squeeze", "aten::expand", "aten::alias",
         "aten::permute", "aten::select", "aten::as_strided", "aten::_reshape_alias",
         "aten::split", "aten::unbind", "aten::lift_fresh"}


def launching(counts: dict[str, float]) -> float:
    """Operators per step that launch a kernel (views and profiler markers left out)."""
    return sum(v for k, v in counts.items() if k not in VIEWS and k.startswith("aten::"))


class Ops(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        self.counts[func._schema.name] += 1
        return func(*args, **(kwargs or {}))


def set_casts(model: Any, on: bool) -> None:
    for module in model.modules():
        if hasattr(module, "cast_input_dtype_enabled"):
            module.cast_input_dtype_enabled = on


def measure(step: Any, optimizer: Any, steps: int, masters: Masters | None = None
            ) -> dict[str, Any]:
    """Operators of ``steps`` optimizer steps, as train.loop runs them."""
    def one() -> None:
        step().backward()
        if masters is not None:
            masters.grads_up()
        optimizer.step()
        if masters is not None:
            masters.weights_down()
        else:
            optimizer.zero_grad(set_to_none=True)

    one()  # warm-up
    ops = Ops()
    start = time.perf_counter()
    with ops:
        for _ in range(steps):
            one()
    seconds = (time.perf_counter() - start) / steps
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            one()
    events = [e for e in prof.events() if e.name.startswith("aten::")]
    return {
        "launching_ops_per_step": launching(ops.counts) / steps,
        "dispatched_ops_per_step": sum(ops.counts.values()) / steps,
        "dispatched_casts_per_step": sum(ops.counts[n] for n in CASTS) / steps,
        "sync_ops_per_step": sum(ops.counts[n] for n in SYNC_OPS) / steps,
        "profiler_aten_events_per_step": len(events) / steps,
        "profiler_casts_per_step": sum(e.name in CASTS for e in events) / steps,
        "seconds_per_step": seconds,
        "top_ops": dict(collections.Counter(
            {k: v / steps for k, v in ops.counts.items()}).most_common()),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--base", default="embedded")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", type=Path, default=RESULTS / "step_ops.json")
    args = ap.parse_args()
    torch.manual_seed(0)
    base = resolve(args.base)
    tok = load_tokenizer(base)
    tok.padding_side = "right"
    config = TrainConfig(base=args.base)
    body = load_sequence_classifier(base, 20, multi_label=False, device="cpu",
                                    dtype=torch.bfloat16)  # SDPA, as on cuda
    body.config.use_cache = False
    model = config.with_lora(body, "SEQ_CLS").train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-6, fused=True)
    titles = pd.read_csv(bills_path()).text.head(args.batch_size).tolist()
    scorer = ClassifierScorer(model, tok, False, config.max_length or 64, "cpu", True)
    ids = scorer.encode(titles).windows
    batch = list(range(len(ids)))
    y_host = torch.nn.functional.one_hot(torch.arange(len(ids)) % 20, 20).float()

    def before() -> Any:  # the step as it was: tokenizer padding, mask, device targets
        padded = tok.pad({"input_ids": ids}, return_tensors="pt")
        with autocast("cpu", True):
            out = model(input_ids=padded["input_ids"],
                        attention_mask=padded["attention_mask"])
        return torch.nn.functional.cross_entropy(out.logits.float(),
                                                 y_host[batch].argmax(-1))

    classes = y_host.argmax(-1)

    def after() -> Any:
        logits = scorer.logits([ids[i] for i in batch])
        return torch.nn.functional.cross_entropy(
            logits, to_device(classes[torch.tensor(batch)], "cpu"))

    set_casts(model, True)
    old = measure(before, optimizer, args.steps)
    skip_input_casts(model)
    assert use_causal_attention(model) and not needs_padding_mask(model)
    masters = Masters(params)
    new = measure(after, torch.optim.AdamW(masters.masters, lr=1e-6, fused=True),
                  args.steps, masters)
    out = {
        "base": args.base, "batch_size": args.batch_size, "steps": args.steps,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "config": f"bf16 base + autocast, SDPA, LoRA r={config.lora_r} on every layer, "
                  "fused AdamW",
        "before": old, "after": new,
        "launch_ratio": new["launching_ops_per_step"] / old["launching_ops_per_step"],
        "ops_ratio": new["dispatched_ops_per_step"] / old["dispatched_ops_per_step"],
        "profiler_ratio": new["profiler_aten_events_per_step"]
        / old["profiler_aten_events_per_step"],
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(out, indent=2))
    atomic.write_text(args.out, json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
