"""What answer parsers share: the result type, the codebook index and JSON scanning.

Pure logic, no I/O; used by ``replicoder.labels.parse`` (plain codebooks) and
``replicoder.labels.parse_graded`` (graded ones).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from replicoder.labels.codebook import Codebook, name_key

__all__ = ["KEYS", "Index", "Parsed", "Reader", "json_values", "label_field", "last_items",
           "read_answer", "settle"]

T = TypeVar("T")
KEYS = ("labels", "label", "codes", "code", "topics", "topic", "categories", "category")
_LEADING_CODE = re.compile(r"^\s*([\w-]+)\s*[:.)\-]\s")


@dataclass(frozen=True)
class Parsed:
    """Labels read from one answer; ``ok`` False means unreadable, ``reason`` says why."""

    labels: frozenset[str]
    ok: bool
    reason: str


class Index:
    """Finds the code an answer's item names: a code, a label name, or "code: text"."""

    def __init__(self, codebook: Codebook) -> None:
        self.book = codebook
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


def json_values(text: str) -> list[Any]:
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


def label_field(value: dict[Any, Any]) -> list[Any] | None:
    """The items under the first label key (``KEYS``, any case) of a JSON object, as a list;
    None when it has none."""
    lowered = {str(k).casefold(): v for k, v in value.items()}
    for key in KEYS:
        if key in lowered:
            items = lowered[key]
            return list(items) if isinstance(items, list) else [items]
    return None


def settle(labels: Sequence[str], codes: Sequence[str], given: int, book: Codebook, how: str,
           unknown: Sequence[str]) -> Parsed:
    """The one ending of every answer reader, plain or graded.

    ``labels``: what was read, as stored (``code`` or ``code:level``); ``codes``: their
    codes, for messages; ``given``: how many items the answer named (0: none at all);
    ``unknown``: the items that are not codebook labels, reported but not kept.
    """
    dropped = f"; ignored labels not in the codebook: {', '.join(unknown)}" if unknown else ""
    if not labels:
        if not given and book.multi_label and how == "JSON":
            return Parsed(frozenset(), True, "JSON: no label applies")
        reason = f"{how}: no codebook label{dropped}" if given else f"{how}: no label given"
        return Parsed(frozenset(), False, reason)
    if len(labels) > 1 and not book.multi_label:
        return Parsed(frozenset(), False,
                      f"{how}: several labels ({', '.join(codes)}) for a single-label codebook")
    return Parsed(frozenset(labels), True, how + dropped)


Reader = Callable[[str, Index], "Parsed | None"]


def read_answer(text: str, codebook: Codebook, readers: Sequence[Reader], missing: str
                ) -> Parsed:
    """The one path of every answer reader: the first of ``readers`` (most trusted first)
    that finds something in the stripped answer decides; ``missing`` names what none found."""
    stripped = text.strip()
    if not stripped:
        return Parsed(frozenset(), False, "empty answer")
    index = Index(codebook)
    for reader in readers:
        parsed = reader(stripped, index)
        if parsed is not None:
            return parsed
    return Parsed(frozenset(), False, f"no {missing} found in: {stripped[:60]!r}")
