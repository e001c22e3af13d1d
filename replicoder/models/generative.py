"""Generative scorer: a causal LM that writes the label codes, read back into label sets.

The answer format is the codes in codebook order joined by "; " ("none" for an empty
set), followed by the end-of-sequence token. For a graded codebook each code is followed by
its intensity: "joy: high; hope: low", read back into values ``joy:high``, ``hope:low``
(an item with an unknown code or intensity makes the answer unparsed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder.labels import graded
from replicoder.labels.codebook import Codebook
from replicoder.labels.parse import parse_answer
from replicoder.models.decide import label_matrix
from replicoder.models.generation import generate
from replicoder.models.prompt_budget import cut_note

__all__ = ["GenerativeScorer", "answer", "instruction", "max_answer_tokens", "read_answer",
           "zero_shot_instruction"]

NONE = "none"


def instruction(book: Codebook) -> str:
    what = "codes, separated by ';'" if book.multi_label else "code"
    if book.graded:
        what += f", each followed by ': ' and its intensity ({', '.join(book.intensities)})"
    return f"Code this text with the {book.name} codebook. Answer with the {what} only."


def zero_shot_instruction(book: Codebook) -> str:
    """An instruction that lists the codebook, for a model that was never fine-tuned."""
    lines = "\n".join(f"{lab.code}: {lab.name}" for lab in book.labels)
    return f"{instruction(book)}\nCodes:\n{lines}"


def answer(labels: frozenset[str], book: Codebook) -> str:
    """The target text: codes (graded: "code: intensity") in codebook order, or "none"."""
    if book.graded:
        shown = [graded.split(v) for v in book.values if v in labels]
        return "; ".join(f"{code}: {level}" for code, level in shown) or NONE
    return "; ".join(c for c in book.codes if c in labels) or NONE


def max_answer_tokens(tok: Any, book: Codebook) -> int:
    """Tokens the longest possible answer takes, end-of-sequence included."""
    def size(labels: frozenset[str]) -> int:
        return len(tok(answer(labels, book), add_special_tokens=False)["input_ids"]) + 1

    def one(code: str) -> frozenset[str]:
        if not book.graded:
            return frozenset([code])
        return frozenset([max((graded.join(code, lv) for lv in book.intensities),
                              key=lambda v: size(frozenset([v])))])

    if book.multi_label:
        return size(frozenset().union(*(one(c) for c in book.codes)))
    return max(size(one(c)) for c in book.codes)


def read_answer(text: str, book: Codebook) -> tuple[frozenset[str], bool]:
    """(labels, ok) from a generated answer."""
    if text.strip().lower() == NONE and book.multi_label:
        return frozenset(), True
    # The model writes "joy: high; hope: low"; the graded parser reads one item a line.
    parsed = parse_answer(text.replace(";", "\n") if book.graded else text, book)
    return parsed.labels, parsed.ok


@dataclass
class GenerativeScorer:
    """Writes answers for texts and reads them into label sets."""

    model: Any
    tokenizer: Any
    book: Codebook
    instruction: str
    max_length: int
    max_new_tokens: int
    device: str
    bf16: bool
    note: bool = False  # say in the prompt that a cut document was cut (zero-shot)

    def cuts(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text is longer than the ``max_length`` tokens the prompt holds."""
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(x) > self.max_length for x in ids]

    def prompt_ids(self, text: str) -> list[int]:
        tok = self.tokenizer
        ids = tok(text, add_special_tokens=False)["input_ids"]
        if len(ids) > self.max_length:
            text = tok.decode(ids[: self.max_length])
            if self.note:
                text += cut_note(len(ids) - self.max_length)
        if tok.chat_template:
            messages = [{"role": "system", "content": self.instruction},
                        {"role": "user", "content": text}]
            rendered = tok.apply_chat_template(messages, tokenize=False,
                                               add_generation_prompt=True)
        else:
            rendered = f"{self.instruction}\nText: {text}\nAnswer: "
        return list(tok(rendered, add_special_tokens=False)["input_ids"])

    def answer_ids(self, labels: frozenset[str]) -> list[int]:
        ids = self.tokenizer(answer(labels, self.book), add_special_tokens=False)
        return [*ids["input_ids"], self.tokenizer.eos_token_id]

    def generate(self, texts: Sequence[str], batch_size: int = 32) -> list[str]:
        self.model.eval()
        out = generate(self.model, self.tokenizer, [self.prompt_ids(t) for t in texts],
                       max_new_tokens=self.max_new_tokens, batch_size=batch_size,
                       bf16=self.bf16, eos_token_id=self.tokenizer.eos_token_id)
        return [g.text.strip() for g in out]

    def predict(self, texts: Sequence[str], batch_size: int = 32
                ) -> tuple[list[frozenset[str]], np.ndarray, list[str]]:
        """(label sets, 0/1 scores (n, n_values): columns ``book.values``, raw answers)."""
        raw = self.generate(texts, batch_size)
        sets = [read_answer(r, self.book)[0] for r in raw]
        return sets, label_matrix(sets, self.book.values), raw
