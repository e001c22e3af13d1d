"""Log-probabilities of short continuations ("branches") after a prompt, without generating.

Every prompt ("stem") of a batch shares a prefix (the instruction and codebook), computed
once (:mod:`replicoder.models.prefix`). Each stem's own tokens are then run once, and its
keys and values copied for a group of branches (the label answers, or one question per
label), which run as one right-padded batch: padding sits after the real tokens, so it is
never attended to. A branch's first token is read from the stem's last position.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder.models.generation import _cache_arg
from replicoder.models.prefix import PrefixCache
from replicoder.models.runtime import autocast

__all__ = ["BranchScores", "Stems"]

# Tokens of stems and branches packed into one forward pass. Every token of a pass attends
# to all of it (the mask only hides), so shorter passes waste less: 512 took 13% less CPU
# than 1024 scoring the CAP codebook on 26 titles (embedded model, one thread).
QUERY_TOKENS = 512



@dataclass(frozen=True)
class BranchScores:
    """Per branch: the log-probability of each of its tokens (``tokens[k]``, a list), and
    at its end the log-probabilities of ``next_ids`` (array (K, len(next_ids)))."""

    tokens: list[list[float]]
    next: np.ndarray


class Stems:
    """Prompts (token ids) whose continuations are scored; see the module docstring."""

    def __init__(self, model: Any, stems: Sequence[list[int]], bf16: bool = False) -> None:
        self.model = model
        self.bf16 = bf16
        self.device = str(model.device)
        self.shared = PrefixCache.of(model, stems, bf16) if len(stems) > 1 else None
        self.head = len(self.shared.prefix) if self.shared else 0

    def fits(self, stem: list[int]) -> bool:
        """Whether ``stem`` starts with the shared prefix (or there is none)."""
        return self.shared is None or stem[:self.head] == self.shared.prefix

    def open(self, stem: list[int]) -> _Open:
        """Run one stem's own tokens; the result scores branches after it."""
        import torch

        fits = self.shared is not None and stem[:self.head] == self.shared.prefix
        cache = self.shared.for_batch(1) if fits and self.shared else None
        own = stem[self.head:] if fits else stem
        with torch.inference_mode(), autocast(self.device, self.bf16):
            out = self.model(input_ids=torch.tensor([own], device=self.device),
                             use_cache=True, logits_to_keep=1, **{_cache_arg(): cache})
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        return _Open(self, out.past_key_values, first, len(stem))

    def score(self, stems: Sequence[list[int]], branches: Sequence[Sequence[list[int]]],
              next_ids: Sequence[int] = ()) -> list[BranchScores]:
        """``branches[i]`` scored after ``stems[i]``: several stems and all their branches
        run as one sequence (up to ``QUERY_TOKENS``) over the shared prefix, a mask
        keeping each stem and branch apart."""
        if _windowed(self.model) and not _window_masks(self.model):
            return [self.open(s).score(b, next_ids) for s, b in zip(stems, branches,
                                                                     strict=True)]
        out: list[BranchScores] = []
        group: list[int] = []
        size = 0
        limit = _query_tokens(self.model)
        for i, stem in enumerate(stems):
            need = len(stem) - self.head + sum(len(b) for b in branches[i])
            if group and size + need > limit:
                out += self._packed([stems[j] for j in group], [branches[j] for j in group],
                                    next_ids)
                group, size = [], 0
            group.append(i)
            size += need
        if group:
            out += self._packed([stems[j] for j in group], [branches[j] for j in group],
                                next_ids)
        return out

    def _packed(self, stems: list[list[int]], branches: list[Sequence[list[int]]],
                next_ids: Sequence[int]) -> list[BranchScores]:
        import torch

        shared = self.shared
        if shared is not None and any(s[:self.head] != shared.prefix for s in stems):
            return [self.open(s).score(b, next_ids) for s, b in zip(stems, branches,
                                                                     strict=True)]
        head = self.head if shared else 0
        flat: list[int] = []
        pos: list[int] = []
        seg: list[int] = []  # which stem
        part: list[int] = []  # -1: the stem's own tokens; k: its branch k
        lasts: list[int] = []  # where each stem's last token sits
        rows: list[list[list[int]]] = []
        for d, (stem, bs) in enumerate(zip(stems, branches, strict=True)):
            own = stem[head:]
            flat += own
            pos += list(range(head, len(stem)))
            seg += [d] * len(own)
            part += [-1] * len(own)
            lasts.append(len(flat) - 1)
            mine: list[list[int]] = []
            for k, b in enumerate(bs):
                feed = list(b) if next_ids else list(b[:-1])
                mine.append(list(range(len(flat), len(flat) + len(feed))))
                flat += feed
                pos += [len(stem) + j for j in range(len(feed))]
                seg += [d] * len(feed)
                part += [k] * len(feed)
            rows.append(mine)
        q = len(flat)
        s_, p_, idx = torch.tensor(seg), torch.tensor(part), torch.arange(q)
        same = s_[:, None] == s_[None, :]
        sees = same & (idx[None, :] <= idx[:, None]) & (
            (p_[None, :] == -1) | (p_[None, :] == p_[:, None]))
        mask = torch.cat([torch.ones(q, head, dtype=torch.bool), sees], dim=1)
        keep = sorted({*lasts, *(i for mine in rows for at in mine for i in at)})
        row = {i: r for r, i in enumerate(keep)}
        rows = [[[row[i] for i in at] for at in mine] for mine in rows]
        logp = self._forward(flat, pos, mask, shared.for_batch(1) if shared else None, keep)
        out = []
        for d, bs in enumerate(branches):
            first = logp[row[lasts[d]]]
            tokens: list[list[float]] = []
            ends = np.zeros((len(bs), len(next_ids)))
            for k, b in enumerate(bs):
                at = rows[d][k]
                tokens.append([float(first[b[0]])]
                              + [float(logp[at[j - 1], b[j]]) for j in range(1, len(b))])
                if next_ids:
                    ends[k] = logp[at[len(b) - 1], list(next_ids)].cpu().numpy()
            out.append(BranchScores(tokens, ends))
        return out

    def _forward(self, flat: list[int], pos: list[int], mask: Any, cache: Any,
                 keep: Sequence[int] | None = None) -> Any:
        """Log-probabilities (q, vocab) of one packed sequence under a boolean mask; with
        ``keep``, only at those positions (len(keep), vocab): the vocabulary projection, a
        fifth of a small model's work per token, is spent only where a score is read."""
        import torch

        model, device = self.model, self.device
        masks = {"full_attention": mask}
        if _windowed(model):
            masks["sliding_attention"] = _sliding(mask, pos, model.config.sliding_window)
        if getattr(model.config, "_attn_implementation", "sdpa") != "sdpa":
            floor = torch.finfo(model.dtype).min
            masks = {k: torch.zeros(m.shape, dtype=model.dtype).masked_fill(~m, floor)
                     for k, m in masks.items()}
        four = {k: m[None, None].to(device) for k, m in masks.items()}
        with torch.inference_mode(), autocast(device, self.bf16):
            logits = model(input_ids=torch.tensor([flat], device=device),
                           attention_mask=four if _windowed(model) else four["full_attention"],
                           position_ids=torch.tensor([pos], device=device),
                           use_cache=cache is not None,
                           **({} if keep is None else
                              {"logits_to_keep": torch.tensor(keep, device=device)}),
                           **{_cache_arg(): cache}).logits[0]
        return torch.log_softmax(logits.float(), dim=-1)


class _Open:
    """One stem after its forward pass: its cache and next-token log-probabilities."""

    def __init__(self, stems: Stems, cache: Any, first: Any, length: int) -> None:
        self.stems = stems
        self.cache = cache
        self.first = first
        self.length = length

    def score(self, branches: Sequence[list[int]], next_ids: Sequence[int] = (),
              final: bool = True) -> BranchScores:
        """Token log-probabilities of each branch (non-empty token lists) after the stem.
        ``final`` False keeps the stem's cache for another call."""
        # A branch's last token is read, not fed, unless what follows it is asked for.
        feed = [list(b) if next_ids else list(b[:-1]) for b in branches]
        if not any(feed):
            return BranchScores([[float(self.first[b[0]])] for b in branches],
                                np.zeros((len(branches), 0)))
        if _windowed(self.stems.model):
            logp, rows = self._repeated(feed, final)
        else:
            logp, rows = self._tree(feed)
        tokens: list[list[float]] = []
        ends = np.zeros((len(branches), len(next_ids)))
        for k, b in enumerate(branches):
            at = rows[k]
            tokens.append([float(self.first[b[0]])]
                          + [float(logp[at[j - 1], b[j]]) for j in range(1, len(b))])
            if next_ids:
                ends[k] = logp[at[len(b) - 1], list(next_ids)].cpu().numpy()
        return BranchScores(tokens, ends)

    def _tree(self, feed: list[list[int]]) -> tuple[Any, list[list[int]]]:
        """All branches as one sequence; a mask lets each token see the stem and the
        tokens before it in its own branch, positions restart after the stem for each."""
        import torch

        flat: list[int] = []
        pos: list[int] = []
        rows: list[list[int]] = []
        owner: list[int] = []
        for k, f in enumerate(feed):
            rows.append(list(range(len(flat), len(flat) + len(f))))
            flat += f
            pos += [self.length + j for j in range(len(f))]
            owner += [k] * len(f)
        q = len(flat)
        own, idx = torch.tensor(owner), torch.arange(q)
        block = (own[:, None] == own[None, :]) & (idx[None, :] <= idx[:, None])
        mask = torch.cat([torch.ones(q, self.length, dtype=torch.bool), block], dim=1)
        logp = self.stems._forward(flat, pos, mask, self.cache)
        _rewind(self.cache, q)
        return logp, rows

    def _repeated(self, feed: list[list[int]], final: bool) -> tuple[Any, list[list[int]]]:
        """Branches as a right-padded batch over copies of the stem's cache (for models
        whose sliding-window layers a custom mask cannot describe)."""
        import torch

        cache = self.cache if final else copy.deepcopy(self.cache)
        cache.batch_repeat_interleave(len(feed))
        width = max(max(map(len, feed)), 1)
        ids = torch.tensor([(f or [0]) + [(f or [0])[-1]] * (width - max(len(f), 1))
                            for f in feed], device=self.stems.device)
        with torch.inference_mode(), autocast(self.stems.device, self.stems.bf16):
            logits = self.stems.model(input_ids=ids, use_cache=True,
                                      **{_cache_arg(): cache}).logits.float()
        logp = torch.log_softmax(logits, dim=-1).reshape(len(feed) * width, -1)
        return logp, [[k * width + j for j in range(width)] for k in range(len(feed))]


def _windowed(model: Any) -> bool:
    return bool(getattr(model.config, "sliding_window", None)
                and "sliding_attention" in (getattr(model.config, "layer_types", None) or []))


# Windowed models whose forward takes one mask per layer type (checked against whole
# sequences in tests/models/test_branches_windowed.py); other windowed models branch one
# stem at a time.
WINDOW_MASKS = ("gemma3_text",)


def _window_masks(model: Any) -> bool:
    return getattr(model.config, "model_type", "") in WINDOW_MASKS


def _sliding(mask: Any, pos: list[int], window: int) -> Any:
    """The sliding-window layers' mask from the full one (q, head + q): their cache keeps
    only the prefix's last ``window - 1`` positions, and a query sees a key only when it is
    less than ``window`` positions back."""
    import torch

    q = len(pos)
    head = mask.shape[1] - q
    kept = min(head, window - 1)
    qpos = torch.tensor(pos)
    kpos = torch.cat([torch.arange(head - kept, head), qpos])
    return mask[:, head - kept:] & (kpos[None, :] > qpos[:, None] - window)


def _query_tokens(model: Any) -> int:
    """Tokens per packed pass: ``QUERY_TOKENS``, fewer for a large vocabulary (the
    log-probabilities of the rows read take rows x vocabulary floats)."""
    vocab = int(getattr(model.config, "vocab_size", 0) or 0)
    return max(128, min(QUERY_TOKENS, (1 << 26) // vocab)) if vocab else QUERY_TOKENS


def _rewind(cache: Any, n: int) -> None:
    """Drop the last ``n`` positions of ``cache`` (the branches just scored)."""
    try:
        cache.crop(-n)
    except ValueError:  # older transformers: crop(final length)
        cache.crop(cache.get_seq_length() - n)
