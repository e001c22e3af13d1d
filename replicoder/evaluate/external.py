"""Predictions made outside replicoder, read from a file and matched to a codebook.

Formats (CSV, TSV, JSONL or Parquet, optionally .gz): rows of (document id, label cell,
optional intensity). A label cell holds one label, several joined by ";", or a list
(Parquet); so both "one row per document × label" and "one row per document with a list"
read the same way, and a document's labels are the union of its rows. An empty cell gives
the document no label. For a graded codebook each label needs an intensity: from the
intensity column, or written ``label:intensity`` in the cell.

Labels are matched to the codebook by code, or by name ignoring case, punctuation, spaces
and the word "or" ("Financial/material worry" = "financial or material worry" =
"FinancialMaterialWorry"). A label or intensity the codebook lacks, or a label given two
intensities for one document, is an error naming the file and row; with ``drop=True`` it is
dropped (the first intensity kept) and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replicoder.errors import ReplicoderError
from replicoder.io.readers import open_table
from replicoder.labels import graded
from replicoder.labels.codebook import Codebook

__all__ = ["ExternalPredictions", "label_key", "read_external"]


def label_key(name: str) -> str:
    """The form labels are matched in: lower-case words, punctuation and 'or' dropped."""
    return "".join(w for w in re.findall(r"[^\W_]+", name.casefold()) if w != "or")


@dataclass
class ExternalPredictions:
    """Label sets by document id, with counts of what was dropped."""

    path: Path
    sets: dict[str, frozenset[str]]
    rows: int
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_examples: dict[str, list[str]] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        return {"file": str(self.path), "rows": self.rows, "documents": len(self.sets),
                "dropped": self.dropped, "dropped_examples": self.dropped_examples}


def _items(cell: Any) -> list[str]:
    if cell is None or (isinstance(cell, float) and cell != cell):
        return []
    if isinstance(cell, str):
        return [x.strip() for x in cell.split(";") if x.strip()]
    if hasattr(cell, "__iter__"):
        return [str(x).strip() for x in cell if str(x).strip()]
    return [str(cell).strip()]


class _Matcher:
    def __init__(self, book: Codebook, path: Path, drop: bool) -> None:
        self.book, self.path, self.drop = book, path, drop
        self.by_key: dict[str, str] = {}
        for lab in book.labels:
            self.by_key.setdefault(label_key(lab.name), lab.code)
        for lab in book.labels:
            self.by_key[label_key(lab.code)] = lab.code
        self.by_code = {lab.code: lab.code for lab in book.labels}
        self.dropped: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def skip(self, kind: str, what: str, message: str) -> None:
        if not self.drop:
            raise ReplicoderError(f"{message}; fix the file, or pass --drop-unknown to drop "
                                  "such labels (they are counted in the report)")
        self.dropped[kind] += 1
        seen = self.examples.setdefault(kind, [])
        if what not in seen and len(seen) < 5:
            seen.append(what)

    def value(self, item: str, level: str | None, where: str) -> str | None:
        name = item
        if level is None and self.book.graded:
            code_part, found = graded.split(item)
            if found is not None:
                name, level = code_part, found
        code = self.book.lookup(name.strip()) or self.by_key.get(label_key(name))
        if code is None:
            self.skip("unknown_label", name, f"{where}: label {name!r} is not in codebook "
                      f"{self.book.name!r} (matched by code or by name, ignoring case, spaces "
                      "and punctuation)")
            return None
        try:
            return graded.resolve(self.book, code, level if self.book.graded else None, where)
        except ReplicoderError as exc:
            self.skip("unknown_intensity", str(level), str(exc))
            return None


def read_external(path: Path, book: Codebook, *, id_column: str = "id",
                  label_column: str = "labels", intensity_column: str | None = None,
                  drop: bool = False) -> ExternalPredictions:
    """Read and match a predictions file; see the module docstring for the format."""
    path = Path(path)
    if path.is_dir():
        raise ReplicoderError(f"{path}: a folder; give the predictions file as NAME=FILE")
    table = open_table(path)
    wanted = [c for c in (id_column, label_column, intensity_column) if c]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise ReplicoderError(
            f"{path}: no column {missing[0]!r}; the columns are: "
            f"{', '.join(map(str, table.columns))}. Name them with --pred-id-column, "
            "--pred-label-column and --pred-intensity-column")
    match = _Matcher(book, path, drop)
    found: dict[str, dict[str, str]] = {}
    rows = 0
    for row_no, record in table.rows:
        rows += 1
        doc = str(record.get(id_column) or "").strip()
        where = f"{path}, {table.where} {row_no} (document {doc})"
        if not doc:
            raise ReplicoderError(f"{where}: the document id is empty")
        labels = found.setdefault(doc, {})
        level = record.get(intensity_column) if intensity_column else None
        cell = record.get(label_column)
        lv = None if level is None or (isinstance(level, float) and level != level) \
            else str(level).strip()
        for item in _items(cell):
            value = match.value(item, lv, where)
            if value is None:
                continue
            code = graded.split(value)[0] if book.graded else value
            if code in labels and labels[code] != value:
                match.skip("conflicting_intensity", code,
                           f"{where}: label {code!r} given twice for the document "
                           f"({labels[code]!r} and {value!r}); a document holds one "
                           "intensity per label")
                continue
            labels[code] = value
    return ExternalPredictions(path, {d: frozenset(v.values()) for d, v in found.items()},
                               rows, dict(match.dropped), match.examples)
