"""Read an LLM's answer into codebook labels. Pure logic: no I/O.

Order of trust: the last JSON value with a label field (in a code fence or inside prose),
then a bare list of codes ("3" or "3, 12"), then label names and "code 3" phrases in prose.
Only codebook labels are kept. An answer that yields none is ``ok=False`` with a reason;
the caller stores it with its raw text as "unparsed", never drops it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from replicoder.codebook import Codebook, name_key

__all__ = ["KEYS", "Parsed", "parse_answer"]

T = TypeVar("T")
KEYS = ("labels", "label", "codes", "code", "topics", "topic", "categories", "category")
_BARE = re.compile(r"^[\s\"'`\[(]*([\w-]+(?:\s*[,;]\s*[\w-]+)*)[\s\"'`\]).]*$")
_CUE = re.compile(r"\b(?:code|label|topic|category)s?\s*(?:is|:|#|=|-)?\s*[\"'`]?([\w-]+)",
                  re.IGNORECASE)
_LEADING_CODE = re.compile(r"^\s*([\w-]+)\s*[:.)\-]\s")


@dataclass(frozen=True)
class Parsed:
    """Labels read from one answer; ``ok`` False means unreadable, ``reason`` says why."""

    labels: frozenset[str]
    ok: bool
    reason: str


class _Index:
    def __init__(self, codebook: Codebook) -> None:
        self.codes = set(codebook.codes)
        self.names = codebook.names

    def code(self, item: Any) -> str | None:
        if isinstance(item, dict):
            for key in ("code", "label", "name", "id"):
                if key in item:
                    return self.code(item[key])
            return None
        if isinstance(item, bool) or item is None:
            return None
        if isinstance(item, float) and item.is_integer():
            item = int(item)
        value = str(item).strip().strip("\"'`").strip()
        if value in self.codes:
            return value
        if name_key(value) in self.names:
            return self.names[name_key(value)]
        lead = _LEADING_CODE.match(value + " ")
        if lead and lead.group(1) in self.codes:
            return lead.group(1)
        return None


def _json_values(text: str) -> list[Any]:
    """Every JSON object or array in ``text``, outermost only, in order."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    i = 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                i += 1
                continue
            found.append(value)
            i = end
        else:
            i += 1
    return found


def last_items(values: list[Any], extract: Callable[[Any], list[T] | None]) -> list[T] | None:
    """The items of the last value that ``extract`` reads (None: none of them)."""
    for value in reversed(values):
        items = extract(value)
        if items is not None:
            return items
    return None


def _from_json(value: Any) -> list[Any] | None:
    """The label items of a JSON answer, or None when it has no label field."""
    if isinstance(value, dict):
        lowered = {str(k).casefold(): v for k, v in value.items()}
        for key in KEYS:
            if key in lowered:
                items = lowered[key]
                return list(items) if isinstance(items, list) else [items]
        return None
    if isinstance(value, list) and all(isinstance(v, str | int | float | dict) for v in value):
        return list(value)
    return None


def _prose(text: str, index: _Index) -> list[str]:
    hits: list[tuple[int, str]] = []
    for match in _CUE.finditer(text):
        if match.group(1) in index.codes:
            hits.append((match.start(), match.group(1)))
    folded = text.casefold()
    for name, code in index.names.items():
        for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", folded):
            hits.append((match.start(), code))
    return [code for _, code in sorted(hits)]


def _result(items: Iterable[Any], index: _Index, codebook: Codebook, how: str) -> Parsed:
    items = list(items)
    known: list[str] = []
    unknown: list[str] = []
    for item in items:
        code = index.code(item)
        if code is None:
            unknown.append(str(item)[:40])
        elif code not in known:
            known.append(code)
    dropped = f"; ignored labels not in the codebook: {', '.join(unknown)}" if unknown else ""
    if not known:
        if not items and codebook.multi_label and how == "JSON":
            return Parsed(frozenset(), True, "JSON: no label applies")
        reason = f"{how}: no codebook label" + dropped if items else f"{how}: no label given"
        return Parsed(frozenset(), False, reason)
    if len(known) > 1 and not codebook.multi_label:
        return Parsed(frozenset(), False,
                      f"{how}: several labels ({', '.join(known)}) for a single-label codebook")
    return Parsed(frozenset(known), True, how + dropped)


def parse_answer(text: str, codebook: Codebook) -> Parsed:
    """Read the labels in an answer; see the module docstring for the order of trust.
    A graded codebook's answers are read by ``replicoder.parse_graded``."""
    if codebook.graded:
        from replicoder.parse_graded import parse_graded

        return parse_graded(text, codebook)
    stripped = text.strip()
    if not stripped:
        return Parsed(frozenset(), False, "empty answer")
    index = _Index(codebook)
    found = last_items(_json_values(stripped), _from_json)
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
