"""The zero-shot base model answering by label scoring (``evaluate zero-shot``).

Two prompts: "template", annotate's built-in prompt (the codebook with descriptions, a
JSON answer), or "instruction", the short instruction the generative trainer uses (codes
and names, a bare code). Answers are read by a :class:`Variant`; every answer is a label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replicoder.labels.codebook import Codebook
from replicoder.models.label_scores import LabelScorer, Messages, Scored, Variant
from replicoder.models.prompt_budget import NOTE_ROOM, fit_document, rendered

__all__ = ["PROMPTS", "ZERO_SHOT_PROMPT", "ZERO_SHOT_VARIANT", "ZeroShotScorer"]

PROMPTS = ("template", "instruction")
# Chosen on the demo's validation titles (bench/results/label_scoring.json).
ZERO_SHOT_PROMPT = "template"
ZERO_SHOT_VARIANT = "name-mean-cf"
BATCH = 32  # documents scored per shared-prefix computation


@dataclass
class ZeroShotScorer:
    """Scores the codebook for texts; ``predict`` as the other scorers do."""

    model: Any
    tokenizer: Any
    book: Codebook
    instruction: str
    max_length: int
    device: str
    bf16: bool
    variant: Variant
    prompt: str = "template"

    def __post_init__(self) -> None:
        if self.prompt == "template":  # what manifests show as the prompt
            self.instruction = self.messages("{text}")[0]["content"]
        self.scorer = LabelScorer(self.model, self.tokenizer, self.book, self.variant,
                                  json_answers=self.prompt == "template", bf16=self.bf16)

    def budget(self, context: int) -> int:
        """Tokens of document text that fit in ``context`` with this prompt around it, the
        longest answer and room for the note a cut document gets."""
        around = rendered(self.tokenizer, self.messages(""))
        return max(1, context - around - self.scorer.longest_answer() - NOTE_ROOM)

    def cuts(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text is longer than the ``max_length`` tokens the prompt holds."""
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(x) > self.max_length for x in ids]

    def messages(self, text: str) -> Messages:
        """The prompt for ``text``: a text over ``max_length`` tokens is cut, with a note
        at the cut that says so."""
        if text:
            text = fit_document(self.tokenizer, text, self.max_length)[0]
        if self.prompt == "template":
            from replicoder.labels.prompts import load_template

            return load_template("", Path(".")).render(self.book, text)
        return [{"role": "system", "content": self.instruction},
                {"role": "user", "content": text}]

    def score(self, texts: Sequence[str], batch_size: int = BATCH) -> list[Scored]:
        out: list[Scored] = []
        empty = self.messages("")
        for start in range(0, len(texts), batch_size):
            part = [self.messages(t) for t in texts[start:start + batch_size]]
            out += self.scorer.score(part, empty)
        return out

    def predict(self, texts: Sequence[str], batch_size: int = BATCH
                ) -> tuple[list[frozenset[str]], np.ndarray, list[str]]:
        """(label sets, probabilities (n, n_values): columns ``book.values``, answers)."""
        self.model.eval()
        scored = self.score(texts, max(batch_size, 2))
        return ([s.labels for s in scored], self.scorer.matrix(scored),
                [s.answer(self.book) for s in scored])
