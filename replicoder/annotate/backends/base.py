"""What a backend is, and what it returns for one request."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from replicoder.labels.prompts import Messages

__all__ = ["Backend", "Response"]


@dataclass(frozen=True)
class Response:
    """One answer: its text, the tokens it cost and how long it took (seconds)."""

    text: str
    input_tokens: int
    output_tokens: int
    seconds: float


class Backend(Protocol):
    """Sends requests to a model. ``model_id`` identifies the model in cache keys (for local
    weights it includes their hash); ``retries`` counts retried requests so far."""

    kind: str
    model_id: str
    retries: int

    def answer_all(self, requests: Sequence[Messages]) -> Iterator[tuple[int, Response]]:
        """Answers as they arrive, each with the index of its request."""
        ...

    def close(self) -> None:
        """Stop: requests in flight fail fast."""
        ...
