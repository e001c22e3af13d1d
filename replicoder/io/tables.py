"""Whole-table reads of classified outputs (id, labels, score_<code>, other columns), and
column look-ups that fall back to the study's document metadata (e.g. ``year``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from replicoder.errors import ReplicoderError, summarise
from replicoder.study import Study

__all__ = ["column_values", "read_ids_and_columns", "read_table"]


def read_table(path: Path, id_column: str = "id") -> pd.DataFrame:
    """A .parquet, .csv, .tsv, .jsonl (optionally .gz) or .dta file with ids as text."""
    path = Path(path)
    if not path.is_file():
        raise ReplicoderError(f"{path}: no such file")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    keep = {id_column: str, "labels": str}
    try:
        if ext == ".parquet":
            frame = pd.read_parquet(path)
        elif ext in (".csv", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if ext == ".tsv" else ",", dtype=keep,
                                keep_default_na=False, na_values=[""])
        elif ext in (".jsonl", ".json"):
            frame = pd.read_json(path, lines=True, dtype=keep)
        elif ext == ".dta":
            frame = pd.read_stata(path)
        else:
            raise ReplicoderError(
                f"{path}: cannot read {ext or 'a file without extension'}; give a .parquet, "
                ".csv, .tsv, .jsonl or .dta file (as `replicoder classify` writes)")
    except (ValueError, OSError) as exc:
        raise ReplicoderError(f"{path}: cannot be read as {ext} ({exc})") from exc
    if id_column not in frame.columns:
        raise ReplicoderError(
            f"{path}: no column {id_column!r}; the columns are: "
            f"{', '.join(map(str, frame.columns))}. Name the id column with --id")
    _check_ids(frame, id_column, path)
    frame[id_column] = frame[id_column].astype(str)
    dupes = frame[id_column][frame[id_column].duplicated()]
    if len(dupes):
        raise ReplicoderError(
            f"{path}: id {dupes.iloc[0]!r} appears {int((frame[id_column] == dupes.iloc[0]).sum())}"
            f" times ({len(dupes)} repeated rows); each document must appear once")
    return frame


def _check_ids(frame: pd.DataFrame, id_column: str, path: Path) -> None:
    """Every row needs an id: an empty or null one is an error naming the rows."""
    values = frame[id_column]
    blank = values.isna() | values.astype(str).str.strip().eq("")
    if blank.any():
        rows = [str(i + 1) for i in blank.to_numpy().nonzero()[0]]
        raise ReplicoderError(
            f"{path}: the id column {id_column!r} is empty or null in {len(rows):,} rows "
            f"(data rows {summarise(rows)}); every document needs its own id. Fix the id "
            "column (classify with --id COLUMN naming a column that holds one for every "
            "document)")


def read_ids_and_columns(path: Path, id_column: str, columns: Sequence[str]
                         ) -> tuple[list[str], dict[str, list[Any]]]:
    """The file's ids and those of ``columns`` it has (others are looked up in the study)."""
    frame = read_table(path, id_column)
    return (frame[id_column].tolist(),
            {c: frame[c].tolist() for c in columns if c in frame.columns})


def column_values(study: Study, ids: Sequence[str], column: str,
                  frame_columns: dict[str, list[Any]], source: Path | None) -> list[Any]:
    """``column`` for each id: from the file when it has it, else from the documents'
    metadata in the study (imported with ``--meta``); a clear error when neither has it."""
    if column in frame_columns:
        values = frame_columns[column]
        empty = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and v != v)]
        if empty:
            raise ReplicoderError(
                f"{source}: column {column!r} is empty for id {ids[empty[0]]!r} "
                f"({len(empty)} rows); fill it in or group by another column")
        return list(values)
    with study.store() as store:
        docs = {d.doc_id: d.meta for d in store.documents(list(ids))}
    out: list[Any] = []
    for doc_id in ids:
        meta = docs.get(doc_id)
        if meta is None or column not in meta or meta[column] in (None, ""):
            where = f"{source} has no column {column!r} and " if source else ""
            reason = "is not in the study" if meta is None else f"has no {column!r} metadata"
            raise ReplicoderError(
                f"{where}document {doc_id!r} {reason}; import the documents with "
                f"`--meta {column}` or add a {column!r} column to the file")
        out.append(meta[column])
    return out
