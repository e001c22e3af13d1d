"""How many tokens a model reads per document: measured on the training documents.

``--max-length auto`` (the default) takes the 95th percentile of the training documents'
token lengths, never less than FLOOR (the old fixed default, so short documents such as
bill titles are read as before), at most the cost cap (``--length-cap``, default CAP) and
the base model's context. Batches are sorted by length, so a longer limit costs only the
documents that are longer: a title of 12 tokens is 12 tokens whatever the limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["CAP", "FLOOR", "QUANTILE", "LengthReport", "choose_length", "context_of",
           "measure", "parse_max_length"]

FLOOR = 64
CAP = 512
QUANTILE = 0.95


def context_of(path: str) -> int:
    """The base model's context (max_position_embeddings of its config); 2048 if unknown."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False).get_text_config()
    except (OSError, ValueError):
        return 2048
    return int(getattr(config, "max_position_embeddings", 2048) or 2048)


def parse_max_length(value: str) -> int | None:
    """``--max-length``: "auto" (None) or a whole number of tokens, at least 1."""
    from replicoder.errors import ReplicoderError

    if value.strip().lower() == "auto":
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ReplicoderError(f"--max-length {value!r}: give 'auto' or a number of tokens "
                              "(at least 1)")
    return number


def measure(tokenizer: Any, texts: Sequence[str], template: str = "{text}") -> list[int]:
    """Token length of each text as the classifier sees it (``template`` applied), uncut."""
    before, _, after = template.partition("{text}")
    if not texts:
        return []
    enc = tokenizer([before + t for t in texts], add_special_tokens=True)["input_ids"]
    cue = len(tokenizer(after, add_special_tokens=False)["input_ids"]) if after else 0
    return [len(ids) + cue for ids in enc]


def choose_length(lengths: Sequence[int], context: int, cap: int = CAP) -> int:
    """The auto length: the QUANTILE of ``lengths`` rounded up to a multiple of 8, at least
    FLOOR, at most ``cap`` and ``context``."""
    wanted = FLOOR
    if lengths:
        q = math.ceil(float(np.quantile(np.asarray(lengths), QUANTILE)))
        wanted = max(FLOOR, -(-q // 8) * 8)
    return max(1, min(wanted, cap, context))


@dataclass(frozen=True)
class LengthReport:
    """What was measured on the training documents and what was chosen."""

    documents: int
    median: int
    p95: int
    longest: int
    max_length: int
    auto: bool
    cap: int
    context: int
    longer: int  # documents longer than max_length
    long: str  # what happens to them: truncate, head-tail or chunk

    @classmethod
    def of(cls, lengths: Sequence[int], max_length: int, auto: bool, cap: int, context: int,
           long: str) -> LengthReport:
        arr = np.asarray(lengths) if lengths else np.zeros(1, dtype=int)
        return cls(len(lengths), int(np.median(arr)), int(np.quantile(arr, QUANTILE)),
                   int(arr.max()), max_length, auto, cap, context,
                   int((arr > max_length).sum()) if lengths else 0, long)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """One sentence for the user."""
        how = (f"auto: 95th percentile, at least {FLOOR}, at most --length-cap {self.cap} "
               f"and the model's context {self.context}") if self.auto else "as given"
        text = (f"{self.documents} training documents have a median of {self.median} tokens, "
                f"95th percentile {self.p95}, longest {self.longest}; max length "
                f"{self.max_length} ({how})")
        if not self.longer:
            return text + "; no document is cut"
        share = 100 * self.longer / max(1, self.documents)
        fate = {"truncate": "cut to their first tokens (read them whole with --long chunk)",
                "head-tail": "cut to their first quarter and last three quarters of "
                             f"{self.max_length} tokens",
                "chunk": "read whole in overlapping windows"}[self.long]
        return text + f"; {self.longer} ({share:.1f}%) are longer and are {fate}"
