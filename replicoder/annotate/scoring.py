"""Local annotators that answer by scoring the codebook (``answer = "score"``, the default
for the local backend): every answer is a valid label, with a probability per label.

The answer is stored as JSON (``{"labels": ["3"], "probabilities": {"1": 0.01, ...}}``),
so the cache, the parser and the proposals need nothing new; the probabilities travel in
the proposal's provenance. See :mod:`replicoder.models.label_scores` for how it scores.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from replicoder.annotate.backends.base import Response
from replicoder.annotate.backends.local_hf import LocalBackend
from replicoder.labels.codebook import Codebook
from replicoder.labels.prompts import Messages
from replicoder.models.label_scores import LabelScorer, Scored, Variant

__all__ = ["ScoringBackend", "probabilities", "sample"]

BATCH = 32  # documents per shared-prefix computation


class ScoringBackend:
    """The local backend's model, scoring labels instead of generating."""

    kind = "local"

    def __init__(self, local: LocalBackend, book: Codebook, content_free: Messages) -> None:
        self.local = local
        self.book = book
        self.content_free = content_free
        self.variant = Variant.parse(local.cfg.scoring)
        self.model_id = local.model_id
        self.retries = 0

    def fit_document(self, empty: Messages) -> tuple[Any, int]:
        """As :meth:`LocalBackend.fit_document`: the same model reads the same prompts."""
        return self.local.fit_document(empty)

    def answer_all(self, requests: Sequence[Messages]) -> Iterator[tuple[int, Response]]:
        """Answers in request order, ``BATCH`` at a time."""
        import torch

        model, tok = self.local.load()
        scorer = LabelScorer(model, tok, self.book, self.variant, json_answers=True)
        threads = torch.get_num_threads()
        if self.local.cfg.threads:
            torch.set_num_threads(self.local.cfg.threads)
        try:
            for start in range(0, len(requests), BATCH):
                began = time.monotonic()
                part = list(requests[start:start + BATCH])
                scored = scorer.score(part, self.content_free)
                seconds = (time.monotonic() - began) / len(part)
                for i, s in enumerate(scored):
                    if self.local.cfg.temperature > 0:
                        s = sample(s, self.book, self.local.cfg.temperature,
                                   _rng(self.local.cfg.seed, part[i]))
                    yield start + i, Response(s.answer(self.book), s.prompt_tokens, 0,
                                              seconds)
        finally:
            torch.set_num_threads(threads)

    def close(self) -> None:
        return None


def _rng(seed: int, messages: Messages) -> np.random.Generator:
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def sample(s: Scored, book: Codebook, temperature: float, rng: np.random.Generator
           ) -> Scored:
    """A label drawn from the probabilities sharpened or flattened by ``temperature``
    (multi-label: each label kept with its tempered probability); graded answers keep the
    best labels."""
    if book.graded:
        return s
    codes = list(s.probabilities)
    p = np.clip(np.array([s.probabilities[c] for c in codes]), 1e-12, 1.0)
    if book.multi_label:
        a, b = p ** (1 / temperature), (1 - p + 1e-12) ** (1 / temperature)
        keep = rng.random(len(codes)) < a / (a + b)
        return Scored(frozenset(c for c, k in zip(codes, keep, strict=True) if k),
                      s.probabilities, s.intensities, s.prompt_tokens)
    w = p ** (1 / temperature)
    pick = codes[int(rng.choice(len(codes), p=w / w.sum()))]
    return Scored(frozenset([pick]), s.probabilities, s.intensities, s.prompt_tokens)


def probabilities(raw: str) -> dict[str, Any] | None:
    """The probabilities a scored answer holds (None for any other answer)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict) or "probabilities" not in value:
        return None
    out = {"labels": value["probabilities"]}
    if "intensities" in value:
        out["intensities"] = value["intensities"]
    return out
