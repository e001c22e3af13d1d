"""One batched generation function for every caller: annotators, generative scorers, serve.

Prompts are token ids. Batches are sorted by length and padded on the left; generation is
greedy at temperature 0, else sampling seeded by ``seed``. Each answer stops at the model's
end-of-sequence token or at the first ``stop`` string. A prefix all prompts share (an
instruction) is computed once (:mod:`replicoder.models.prefix`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from replicoder.models.prefix import PrefixCache
from replicoder.models.runtime import autocast, length_batches

__all__ = ["Generated", "generate"]


@dataclass(frozen=True)
class Generated:
    """One answer. ``completion_tokens`` counts generated tokens, the end token included;
    ``finish_reason`` is "stop" (end token or stop string) or "length"."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


def generate(model: Any, tokenizer: Any, prompts: Sequence[list[int]], *,
             max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
             seed: int | None = None, stop: Sequence[str] = (), batch_size: int = 32,
             bf16: bool = False, eos_token_id: int | None = None,
             cancel: threading.Event | None = None, share_prefix: bool = True
             ) -> list[Generated]:
    """Answers to ``prompts`` (token ids), in the order given. ``eos_token_id``: the end
    token, when it is not the model's own (a model fine-tuned to end with another).
    Setting ``cancel`` (from another thread) stops generation after the current token.
    ``share_prefix`` False computes each prompt whole (for comparisons)."""
    import torch

    device = str(model.device)
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens,
                              "pad_token_id": tokenizer.pad_token_id}
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    if stop:
        kwargs.update(stop_strings=list(stop), tokenizer=tokenizer)
    if cancel is not None:
        kwargs["stopping_criteria"] = _cancelled(cancel)
    eos = model.generation_config.eos_token_id if eos_token_id is None else eos_token_id
    if eos_token_id is not None:
        kwargs["eos_token_id"] = eos_token_id
    ends = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    ends.add(tokenizer.pad_token_id)
    out: list[Generated | None] = [None] * len(prompts)
    shared = PrefixCache.of(model, prompts, bf16) if share_prefix else None
    head = shared.prefix if shared else []
    pad = tokenizer.pad_token_id
    with torch.inference_mode():
        for batch in length_batches([len(p) for p in prompts], batch_size):
            own = [list(prompts[i])[len(head):] for i in batch]
            width = max(map(len, own))
            ids = torch.tensor([head + [pad] * (width - len(o)) + o for o in own],
                               device=device)
            mask = torch.tensor([[1] * len(head) + [0] * (width - len(o)) + [1] * len(o)
                                 for o in own], device=device)
            extra = {_cache_arg(): shared.for_batch(len(batch))} if shared else {}
            if temperature > 0 and seed is not None:
                torch.manual_seed(seed)
            with autocast(device, bf16):
                gen = model.generate(input_ids=ids, attention_mask=mask, **kwargs, **extra)
            for row, i in enumerate(batch):
                out[i] = _answer(tokenizer, len(prompts[i]),
                                 gen[row, len(head) + width:].tolist(), ends, max_new_tokens,
                                 stop)
    return [g for g in out if g is not None]


@functools.cache
def _cache_arg() -> str:
    """generate()'s name for a cache to start from: ``cache`` since transformers 5.24
    (``past_key_values`` before, deprecated after)."""
    from importlib.metadata import version

    from packaging.version import Version

    return "cache" if Version(version("transformers")) >= Version("5.24") else "past_key_values"


def _cancelled(cancel: threading.Event) -> Any:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> Any:
            return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool,
                              device=input_ids.device)

    return StoppingCriteriaList([Cancelled()])


def _answer(tokenizer: Any, n_prompt: int, new: list[int], ends: set[int],
            max_new_tokens: int, stop: Sequence[str]) -> Generated:
    finish = "length" if len(new) >= max_new_tokens else "stop"
    used = len(new)
    for i, token in enumerate(new):
        if token in ends:
            new, used, finish = new[:i], i + 1, "stop"
            break
    text = str(tokenizer.decode(new, skip_special_tokens=True))
    cuts = [text.find(s) for s in stop if s in text]
    if cuts:
        text, finish = text[:min(cuts)], "stop"
    return Generated(text, n_prompt, used, finish)
