"""Read an LLM's answer into graded labels (``code:intensity``). Pure logic: no I/O.

Order of trust: the last JSON value (or Python-dict literal, as the flourishing study's
models answered) holding labels: ``{"labels": [{"label": "happiness", "intensity": "high"}]}``,
``{"labels": ["happiness:high"]}`` or ``{"happiness": "high"}``; then ``happiness: high``
lines. A label without an intensity, an intensity off the scale, or two intensities of one
label leave the answer unparsed, with the reason.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from replicoder.errors import ReplicoderError
from replicoder.labels import graded
from replicoder.labels.answer_text import (
    Index,
    Parsed,
    json_values,
    label_field,
    last_items,
    read_answer,
    settle,
)
from replicoder.labels.codebook import Codebook

__all__ = ["parse_graded"]

LEVEL_KEYS = ("intensity", "level", "value", "grade", "score")
_LINE = re.compile(r"^[\s\-*•\d.)]*[\"'`]?([^:=\n]+?)[\"'`]?\s*(?::|=>|=|-)\s*[\"'`]?"
                   r"([\w-]+)[\"'`]?[\s,.;]*$")
_DICT = re.compile(r"\{[^{}]*\}")

Item = tuple[Any, str | None]


def _item(value: Any) -> Item:
    """One label item as (name or code, intensity or None)."""
    if isinstance(value, dict):
        lowered = {str(k).casefold(): v for k, v in value.items()}
        level = next((str(lowered[k]) for k in LEVEL_KEYS if k in lowered), None)
        name = next((lowered[k] for k in ("label", "code", "name", "dimension", "id")
                     if k in lowered), None)
        return name, level
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], str(value[1])
    text = str(value)
    name, level = graded.split(text)
    return (name, level) if level is not None else (text, None)


def _items(value: Any) -> list[Item] | None:
    if isinstance(value, dict):
        found = label_field(value)
        if found is not None:
            return [_item(v) for v in found]
        if value and all(isinstance(v, str) for v in value.values()):
            return [(k, v) for k, v in value.items()]
        return [] if not value else None
    if isinstance(value, list):
        return [_item(v) for v in value]
    return None


def _literals(text: str) -> list[Any]:
    """JSON values, or else Python-dict literals ({'happiness': 'high'}), in order."""
    found = json_values(text)
    if found:
        return found
    out: list[Any] = []
    for match in _DICT.finditer(text):
        try:
            out.append(ast.literal_eval(match.group(0)))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
    return out


def _lines(text: str, index: Index) -> list[Item]:
    out: list[Item] = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and index.code(match.group(1)) is not None:
            out.append((match.group(1), match.group(2)))
    return out


def _result(items: list[Item], index: Index, book: Codebook, how: str) -> Parsed:
    values: dict[str, str] = {}
    unknown: list[str] = []
    for name, level in items:
        code = index.code(name)
        if code is None:
            unknown.append(str(name)[:40])
            continue
        try:
            value = graded.resolve(book, code, level, how)
        except ReplicoderError as exc:
            return Parsed(frozenset(), False, str(exc).split("; ")[0])
        if values.get(code, value) != value:
            return Parsed(frozenset(), False, f"{how}: label {code!r} given two intensities "
                                              f"({values[code]!r} and {value!r})")
        values[code] = value
    return settle(list(values.values()), list(values), len(items), book, how, unknown)


def _json(text: str, index: Index) -> Parsed | None:
    found = last_items(_literals(text), _items)
    return None if found is None else _result(found, index, index.book, "JSON")


def _in_lines(text: str, index: Index) -> Parsed | None:
    lines = _lines(text, index)
    return _result(lines, index, index.book, "lines") if lines else None


def parse_graded(text: str, book: Codebook) -> Parsed:
    """Read graded labels from an answer; see the module docstring."""
    return read_answer(text, book, (_json, _in_lines), "label with an intensity")
