"""What `replicoder estimate` counts: the targets (label presence, and in a graded codebook
optionally each label x intensity) and the 0/1 or score matrices of a classified output.

A graded study's values are ``code:intensity`` (what classify writes); a plain code counts
toward its label's presence only. Presence shares are estimated always; intensity shares
(``code:intensity``) only when asked, and then every predicted label needs its intensity.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from replicoder.errors import ReplicoderError, clip, summarise
from replicoder.io.tables import column_values, read_table
from replicoder.labels import graded
from replicoder.labels.codebook import Codebook
from replicoder.study import Study

__all__ = ["Targets", "checked_methods", "group_keys", "label_matrix", "labels_sha256",
           "read_predictions", "score_matrix"]


@dataclass(frozen=True)
class Targets:
    """The columns of the estimate: ``keys`` (codes, then code:intensity values when
    ``intensities``), their display ``names``, and how values map onto them."""

    book: Codebook
    intensities: bool = False

    @property
    def keys(self) -> list[str]:
        return self.book.codes + (self.book.values if self.intensities else [])

    @property
    def names(self) -> dict[str, str]:
        out = {lab.code: lab.name for lab in self.book.labels}
        if self.intensities:
            for value in self.book.values:
                code, level = graded.split(value)
                out[value] = f"{out[code]} ({level})"
        return out

    def of(self, value: str) -> list[str] | None:
        """The keys ``value`` counts toward; None when it is not of this codebook (or, with
        intensities asked, a graded label without its intensity)."""
        if not self.book.graded:
            return [value] if value in self.book else None
        code, level = graded.split(value)
        if code not in self.book:
            return None
        if not self.intensities:
            return [code] if level is None or level in self.book.intensities else None
        return [code, value] if level in self.book.intensities else None

    def row(self, values: Iterable[str], where: str) -> np.ndarray:
        """The 0/1 vector of a verified label set."""
        index = {k: j for j, k in enumerate(self.keys)}
        out = np.zeros(len(index))
        for value in values:
            keys = self.of(value)
            if keys is None:
                raise ReplicoderError(
                    f"{where}: the verified label {value!r} is not a value of the study's "
                    f"codebook {self.book.name!r}; was the codebook changed after review?")
            for key in keys:
                out[index[key]] = 1.0
        return out


def label_matrix(frame: pd.DataFrame, targets: Targets, path: Path) -> np.ndarray:
    """(documents, keys) 0/1 matrix of the ``labels`` column (codes joined by ';')."""
    if "labels" not in frame.columns:
        raise ReplicoderError(
            f"{path}: no 'labels' column; give the output of `replicoder classify` (codes "
            "joined by ';' in a 'labels' column)")
    book = targets.book
    index = {k: j for j, k in enumerate(targets.keys)}
    out = np.zeros((len(frame), len(index)), dtype=np.float64)
    unknown: Counter[str] = Counter()
    several: list[str] = []
    for i, cell in enumerate(frame["labels"].tolist()):
        text = "" if cell is None or (isinstance(cell, float) and cell != cell) else str(cell)
        present: set[str] = set()
        for value in (c.strip() for c in text.split(";")):
            if not value:
                continue
            keys = targets.of(value)
            if keys is None:
                unknown[value] += 1
                continue
            present.add(keys[0])
            for key in keys:
                out[i, index[key]] = 1.0
        if len(present) > 1 and not book.multi_label:
            several.append(f"row {i + 1} ({clip(text, 40)!r})")
    if unknown:
        listed = [f"{c!r} ({n} rows)" for c, n in unknown.most_common()]
        hint = ("; intensity shares need every label with its intensity "
                f"(e.g. {graded.join(book.codes[0], book.intensities[-1])!r}): leave out "
                "--intensities for presence shares"
                if targets.intensities else "")
        raise ReplicoderError(
            f"{path}: the 'labels' column has values that are not in the study's codebook "
            f"({summarise(listed, 5)}){hint}; classify with a model trained on this study's "
            "codebook")
    if several:
        raise ReplicoderError(
            f"{path}: the study's codebook {book.name!r} is single-label, but "
            f"{len(several):,} rows carry several labels ({summarise(several, 5)}); shares "
            "would sum to more than 1. Classify with a single-label model of this study, or "
            "make the codebook multi-label")
    return out


def score_matrix(frame: pd.DataFrame, targets: Targets, path: Path) -> np.ndarray:
    """(documents, keys) probabilities from the ``score_<value>`` columns; a graded label's
    presence is its best intensity's score (unless a ``score_<code>`` column exists)."""
    book = targets.book
    columns: list[list[str]] = []
    for key in targets.keys:
        own = f"score_{key}"
        if own in frame.columns or not book.graded or graded.GRADE_SEP in key:
            columns.append([own])
        else:
            columns.append([f"score_{v}" for v in book.values if graded.split(v)[0] == key])
    missing = [c for cols in columns for c in cols if c not in frame.columns]
    if missing:
        raise ReplicoderError(
            f"{path}: --use scores needs a score column per label; {missing[0]!r} is missing "
            f"({len(missing)} in all). Use --use labels")
    out = np.zeros((len(frame), len(columns)), dtype=np.float64)
    for j, cols in enumerate(columns):
        block = frame[cols].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(block)
        if bad.any():
            rows, which = np.nonzero(bad)
            named = sorted({cols[k] for k in which})
            raise ReplicoderError(
                f"{path}: --use scores: column {named[0]!r} is NaN or infinite in "
                f"{int(bad.any(axis=1).sum()):,} rows (data rows "
                f"{summarise([str(r + 1) for r in sorted(set(rows.tolist()))], 5)}); "
                "re-run classify for those rows or use --use labels")
        out[:, j] = block.max(axis=1)
    if out.min() < 0 or out.max() > 1:
        raise ReplicoderError(
            f"{path}: --use scores needs probabilities between 0 and 1, but the scores run "
            f"from {out.min():.3g} to {out.max():.3g}; use --use labels")
    return out


def read_predictions(path: Path, id_column: str) -> pd.DataFrame:
    """The classified file, refused when it holds no documents."""
    frame = read_table(path, id_column)
    if frame.empty:
        raise ReplicoderError(f"{path}: no documents")
    return frame


def group_keys(study: Study, frame: pd.DataFrame, ids: Sequence[str], by: Sequence[str],
               path: Path) -> list[tuple[str, ...]]:
    """Each document's group: its values of the ``by`` columns as text, from ``frame``
    when it has the column, else from the study's documents."""
    columns = {c: frame[c].tolist() for c in by if c in frame.columns}
    values = [[str(v) for v in column_values(study, ids, c, columns, path)] for c in by]
    return list(zip(*values, strict=True)) if by else [()] * len(ids)


def checked_methods(methods: Sequence[str], allowed: Sequence[str], level: float) -> list[str]:
    """The methods asked for (all ``allowed`` when none), once each, in order; refuses an
    unknown method and a confidence level outside [0.5, 1)."""
    if not 0.5 <= level < 1.0:
        raise ReplicoderError(f"--level {level}: give a confidence level such as 0.95")
    chosen = list(dict.fromkeys(methods or allowed))
    bad = [m for m in chosen if m not in allowed]
    if bad:
        raise ReplicoderError(f"--method {bad[0]}: choose from {', '.join(allowed)}")
    return chosen


def labels_sha256(verified: Mapping[str, np.ndarray], known: Mapping[str, np.ndarray]) -> str:
    """One hash of the human labels an estimate used (the sample's verified labels and
    those verified before it), so that ``reproduce`` can tell labels reviewed again after
    the run from a computation that changed."""
    digest = hashlib.sha256()
    for tag, labels in (("sample", verified), ("known", known)):
        for doc_id in sorted(labels):
            digest.update(f"{tag}\0{doc_id}\0".encode())
            digest.update(np.ascontiguousarray(labels[doc_id], dtype=np.float64).tobytes())
    return digest.hexdigest()
