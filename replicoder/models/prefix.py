"""A shared prompt prefix computed once: every prompt of an annotator or a zero-shot scorer
starts with the same instruction (the codebook, often hundreds of tokens) and differs only
in its document, so its keys and values are computed once and copied into each batch.

A batch is then laid out as ``prefix + left padding + own tokens``; the attention mask
hides the padding and generation numbers positions from the mask, so each row sees what it
would have seen alone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from replicoder.models.runtime import autocast

__all__ = ["MIN_PREFIX", "PrefixCache", "shared_prefix"]

MIN_PREFIX = 16  # shorter shared prefixes save less than the cache copies cost


def shared_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """Tokens every prompt starts with, leaving each prompt at least one of its own."""
    if not prompts:
        return 0
    first, limit = prompts[0], min(len(p) for p in prompts) - 1
    for i in range(max(limit, 0)):
        token = first[i]
        if any(p[i] != token for p in prompts):
            return i
    return max(limit, 0)


class PrefixCache:
    """Keys and values of ``prefix`` (token ids), copied for each batch by ``for_batch``."""

    def __init__(self, model: Any, prefix: Sequence[int], bf16: bool) -> None:
        import torch

        self.prefix = list(prefix)
        device = str(model.device)
        with torch.inference_mode(), autocast(device, bf16):
            out = model(input_ids=torch.tensor([self.prefix], device=device), use_cache=True,
                        logits_to_keep=1)  # no logits are read: spare the vocabulary
        self._cache = out.past_key_values

    @classmethod
    def of(cls, model: Any, prompts: Sequence[Sequence[int]], bf16: bool
           ) -> PrefixCache | None:
        """The cache of the prompts' shared prefix; None where it would not pay (one
        prompt, a short prefix) or the model's cache cannot be copied per batch."""
        n = shared_prefix(prompts)
        if len(prompts) < 2 or n < MIN_PREFIX:
            return None
        cache = cls(model, prompts[0][:n], bf16)
        return cache if hasattr(cache._cache, "batch_repeat_interleave") else None

    def for_batch(self, size: int) -> Any:
        """A fresh copy for ``size`` rows (generation extends the cache it is given)."""
        cache = copy.deepcopy(self._cache)
        cache.batch_repeat_interleave(size)
        return cache
