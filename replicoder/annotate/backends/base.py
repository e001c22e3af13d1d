"""What every backend returns for one request."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Response:
    """One answer: its text, the tokens it cost and how long it took (seconds)."""

    text: str
    input_tokens: int
    output_tokens: int
    seconds: float
