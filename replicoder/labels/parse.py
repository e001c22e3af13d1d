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


def parse_answer(text: str, codebook: Codebook) -> Parsed:
    """Read the labels in an answer; see the module docstring for the order of trust.
    A graded codebook's answers are read by ``replicoder.parse_graded``."""
    if codebook.graded:
        return parse_graded(text, codebook)
    stripped = text.strip()
    if not stripped:
        return Parsed(frozenset(), False, "empty answer")
    index = Index(codebook)
    found = last_items(json_values(stripped), _from_json)
    if found is not None:
        return _result(found, index, codebook, "JSON")
    bare = _BARE.match(stripped)
    if bare:
        items = [p for p in re.split(r"\s*[,;]\s*", bare.group(1)) if p]
        if all(index.code(p) for p in items):
            return _result(items, index, codebook, "codes")
    if name_key(stripped.strip(" .\"'`")) in index.names:
        return _result([stripped.strip(" .\"'`")], index, codebook, "name")
    found = _prose(stripped, index)
    if found:
        return _result(found, index, codebook, "prose")
    return Parsed(frozenset(), False, f"no codebook label found in: {stripped[:60]!r}")
