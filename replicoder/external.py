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

import pandas as pd

from replicoder import graded
from replicoder.codebook import Codebook
from replicoder.errors import ReplicoderError

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


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ReplicoderError(f"{path}: no such file; give the predictions file as NAME=FILE")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    try:
        if ext == ".parquet":
            return pd.read_parquet(path)
        if ext in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if ext == ".tsv" else ",", dtype=str,
                               keep_default_na=False)
        if ext in (".jsonl", ".json"):
            return pd.read_json(path, lines=True, dtype=False)
    except (ValueError, OSError) as exc:
        raise ReplicoderError(f"{path}: cannot be read as {ext} ({exc})") from exc
    raise ReplicoderError(f"{path}: cannot read {ext or 'a file without extension'}; give a "
                          ".csv, .tsv, .jsonl or .parquet file")


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
        code = self.by_code.get(name.strip()) or self.by_key.get(label_key(name))
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
    frame = _read(path)
    wanted = [c for c in (id_column, label_column, intensity_column) if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ReplicoderError(
            f"{path}: no column {missing[0]!r}; the columns are: "
            f"{', '.join(map(str, frame.columns))}. Name them with --pred-id-column, "
            "--pred-label-column and --pred-intensity-column")
    match = _Matcher(book, path, drop)
    found: dict[str, dict[str, str]] = {}
    levels = frame[intensity_column].tolist() if intensity_column else [None] * len(frame)
    for row_no, (doc, cell, level) in enumerate(
            zip(frame[id_column].astype(str).str.strip(), frame[label_column], levels,
                strict=True), start=2):
        where = f"{path}, row {row_no} (document {doc})"
        labels = found.setdefault(doc, {})
        lv = None if level is None else str(level).strip()
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
                               len(frame), dict(match.dropped), match.examples)
