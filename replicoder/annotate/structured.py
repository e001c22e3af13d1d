"""Structured outputs over HTTP: a JSON schema whose label field is an enum of the
codebook's codes (graded: code and intensity), sent as ``response_format`` to servers that
accept one (OpenAI, vLLM, llama.cpp's server, Ollama). The schema matches the answer the
built-in prompts ask for, ``{"labels": [...]}``, and keeps to what strict mode allows."""

from __future__ import annotations

from typing import Any

from replicoder.labels.codebook import Codebook

__all__ = ["refuses_schema", "response_format", "schema"]

_HINTS = ("response_format", "json_schema", "schema", "structured", "guided")


def schema(book: Codebook) -> dict[str, Any]:
    """The JSON schema of an answer: ``{"labels": [<code>, ...]}`` (graded:
    ``{"labels": [{"label": <code>, "intensity": <level>}, ...]}``)."""
    item: dict[str, Any] = {"type": "string", "enum": book.codes}
    if book.graded:
        item = {"type": "object",
                "properties": {"label": {"type": "string", "enum": book.codes},
                               "intensity": {"type": "string",
                                             "enum": list(book.intensities)}},
                "required": ["label", "intensity"], "additionalProperties": False}
    return {"type": "object", "properties": {"labels": {"type": "array", "items": item}},
            "required": ["labels"], "additionalProperties": False}


def response_format(book: Codebook) -> dict[str, Any]:
    """The ``response_format`` of a chat-completions request."""
    return {"type": "json_schema",
            "json_schema": {"name": "labels", "strict": True, "schema": schema(book)}}


def refuses_schema(status: int, detail: str) -> bool:
    """Whether an HTTP error says the server does not take a response_format (as opposed
    to any other bad request)."""
    low = detail.casefold()
    return status in (400, 404, 415, 422, 501) and any(h in low for h in _HINTS)
