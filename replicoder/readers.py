"""Streaming readers: CSV/TSV, JSONL, Parquet and folders of .txt files, one row at a time.

Every reader yields ``(row_number, record)`` where ``row_number`` counts data rows from 1
and names the place in the file an error message should point to.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from replicoder.errors import ReplicoderError

__all__ = ["FORMATS", "Table", "detect_format", "open_table"]

FORMATS = ("csv", "tsv", "jsonl", "parquet", "txt-folder")

Record = dict[str, Any]


@dataclass
class Table:
    """A file opened for streaming: its columns and an iterator of rows."""

    path: Path
    format: str
    columns: list[str]
    rows: Iterator[tuple[int, Record]]
    where: str = "row"  # how messages name a position: "row" or "line" or "file"


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "txt-folder"
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    by_ext = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
    if ext not in by_ext:
        raise ReplicoderError(
            f"{path}: cannot tell the format from the extension {ext or '(none)'!r}; "
            "use .csv, .tsv, .jsonl, .parquet (optionally .gz), or a folder of .txt files"
        )
    return by_ext[ext]


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix.lower() in (".gz", ".gzip"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _decoded_lines(fh: IO[bytes], path: Path, encoding: str) -> Iterator[str]:
    for line_no, raw in enumerate(fh, start=1):
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ReplicoderError(
                f"{path}, line {line_no}: bytes that are not valid {encoding} "
                f"(byte 0x{raw[exc.start]:02x} at column {exc.start + 1}). "
                "Save the file as UTF-8, or pass --encoding with the file's encoding "
                "(for example cp1252 or latin-1)."
            ) from exc
        except OSError as exc:
            raise ReplicoderError(f"{path}, line {line_no}: cannot read: {exc}") from exc


def open_table(path: Path, *, encoding: str = "utf-8") -> Table:
    """Open ``path`` for streaming; the format comes from its extension."""
    path = Path(path)
    if not path.exists():
        raise ReplicoderError(f"{path}: no such file or folder")
    fmt = detect_format(path)
    if fmt in ("csv", "tsv"):
        return _open_delimited(path, fmt, encoding)
    if fmt == "jsonl":
        return _open_jsonl(path, encoding)
    if fmt == "parquet":
        return _open_parquet(path)
    return _open_folder(path, encoding)


def _open_delimited(path: Path, fmt: str, encoding: str) -> Table:
    csv.field_size_limit(sys.maxsize)
    fh = _open_binary(path)
    lines = _decoded_lines(fh, path, encoding)
    reader = csv.reader(lines, delimiter="\t" if fmt == "tsv" else ",")
    try:
        header = next(reader)
    except StopIteration:
        fh.close()
        raise ReplicoderError(f"{path}: the file is empty (no header row)") from None
    except csv.Error as exc:
        fh.close()
        raise ReplicoderError(f"{path}, line 1: malformed header: {exc}") from exc
    header = [h.lstrip("\ufeff").strip() for h in header]

    def rows() -> Iterator[tuple[int, Record]]:
        with fh:
            row_no = 0
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ReplicoderError(
                        f"{path}, line {reader.line_num}: malformed {fmt.upper()}: {exc}"
                    ) from exc
                row_no += 1
                if not values:
                    continue
                if len(values) != len(header):
                    raise ReplicoderError(
                        f"{path}, row {row_no} (line {reader.line_num}): {len(values)} fields "
                        f"but the header has {len(header)}; check quoting and the delimiter"
                    )
                yield row_no, dict(zip(header, values, strict=True))

    return Table(path, fmt, header, rows())


def _open_jsonl(path: Path, encoding: str) -> Table:
    fh = _open_binary(path)
    lines = enumerate(_decoded_lines(fh, path, encoding), start=1)

    def parse(line_no: int, line: str) -> Record:
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReplicoderError(f"{path}, line {line_no}: not valid JSON: {exc.msg}") from exc
        if not isinstance(value, dict):
            raise ReplicoderError(f"{path}, line {line_no}: each line must be a JSON object")
        return value

    first: tuple[int, Record] | None = None
    for line_no, line in lines:
        if line.strip():
            first = (line_no, parse(line_no, line))
            break
    if first is None:
        fh.close()
        raise ReplicoderError(f"{path}: the file has no JSON records")

    def rows() -> Iterator[tuple[int, Record]]:
        with fh:
            assert first is not None
            yield first
            for line_no, line in lines:
                if line.strip():
                    yield line_no, parse(line_no, line)

    return Table(path, "jsonl", list(first[1]), rows(), where="line")


def _open_parquet(path: Path) -> Table:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise ReplicoderError(f"{path}: not a readable Parquet file: {exc}") from exc
    columns = list(pf.schema_arrow.names)

    def rows() -> Iterator[tuple[int, Record]]:
        row_no = 0
        for batch in pf.iter_batches(batch_size=4096):
            for record in batch.to_pylist():
                row_no += 1
                yield row_no, record

    return Table(path, "parquet", columns, rows())


def _open_folder(path: Path, encoding: str) -> Table:
    files = sorted(p for p in path.rglob("*.txt") if p.is_file())
    if not files:
        raise ReplicoderError(f"{path}: the folder holds no .txt files")

    def rows() -> Iterator[tuple[int, Record]]:
        for n, file in enumerate(files, start=1):
            raw = file.read_bytes()
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                raise ReplicoderError(
                    f"{file}, line {line}: bytes that are not valid {encoding}. Save it as "
                    "UTF-8 or pass --encoding with the files' encoding."
                ) from exc
            yield n, {"id": file.relative_to(path).with_suffix("").as_posix(), "text": text,
                      "file": file.name}

    return Table(path, "txt-folder", ["id", "text", "file"], rows(), where="file")
