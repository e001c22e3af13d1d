"""Read an LLM's answer into codebook labels. Pure logic: no I/O.

Order of trust: the last JSON value with a label field (in a code fence or inside prose),
then a bare list of codes ("3" or "3, 12"), then label names and "code 3" phrases in prose.
Only codebook labels are kept. An answer that yields none is ``ok=False`` with a reason;
the caller stores it with its raw text as "unparsed", never drops it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from replicoder.labels.answer_text import (
    KEYS,
    Index,
    Parsed,
    json_values,
    label_field,
    last_items,
    read_answer,
    settle,
)
from replicoder.labels.codebook import Codebook, name_key
from replicoder.labels.parse_graded import parse_graded

__all__ = ["KEYS", "Parsed", "parse_answer"]

_BARE = re.compile(r"^[\s\"'`\[(]*([\w-]+(?:\s*[,;]\s*[\w-]+)*)[\s\"'`\]).]*$")
_CUE = re.compile(r"\b(?:code|label|topic|category)s?\s*(?:is|:|#|=|-)?\s*[\"'`]?([\w-]+)",
                  re.IGNORECASE)


def _from_json(value: Any) -> list[Any] | None:
    """The label items of a JSON answer, or None when it has no label field."""
    if isinstance(value, dict):
        return label_field(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float | dict) for v in value):
        return list(value)
    return None


def _prose(text: str, index: Index) -> list[str]:
    hits: list[tuple[int, str]] = []
    for match in _CUE.finditer(text):
        if match.group(1) in index.codes:
            hits.append((match.start(), match.group(1)))
    folded = text.casefold()
    for name, code in index.names.items():
        for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", folded):
            hits.append((match.start(), code))
    return [code for _, code in sorted(hits)]


def _result(items: Iterable[Any], index: Index, codebook: Codebook, how: str) -> Parsed:
    items = list(items)
    known: list[str] = []
    unknown: list[str] = []
    for item in items:
        code = index.code(item)
        if code is None:
            unknown.append(str(item)[:40])
        elif code not in known:
            known.append(code)
    return settle(known, known, len(items), codebook, how, unknown)


def _json(text: str, index: Index) -> Parsed | None:
    found = last_items(json_values(text), _from_json)
    return None if found is None else _result(found, index, index.book, "JSON")


def _codes(text: str, index: Index) -> Parsed | None:
    bare = _BARE.match(text)
    if not bare:
        return None
    items = [p for p in re.split(r"\s*[,;]\s*", bare.group(1)) if p]
    if not all(index.code(p) for p in items):
        return None
    return _result(items, index, index.book, "codes")


def _name(text: str, index: Index) -> Parsed | None:
    name = text.strip(" .\"'`")
    return _result([name], index, index.book, "name") if name_key(name) in index.names else None


def _in_prose(text: str, index: Index) -> Parsed | None:
    found = _prose(text, index)
    return _result(found, index, index.book, "prose") if found else None


def parse_answer(text: str, codebook: Codebook) -> Parsed:
    """Read the labels in an answer; see the module docstring for the order of trust.
    A graded codebook's answers are read by ``replicoder.labels.parse_graded``."""
    if codebook.graded:
        return parse_graded(text, codebook)
    return read_answer(text, codebook, (_json, _codes, _name, _in_prose), "codebook label")
