"""Streaming readers: CSV/TSV, JSONL, Parquet and folders of .txt files, one row at a time.

Every reader yields ``(row_number, record)`` where ``row_number`` counts data rows from 1
and names the place in the file an error message should point to.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from replicoder.errors import ReplicoderError

__all__ = ["FORMATS", "Start", "Table", "detect_format", "documents", "open_table"]

FORMATS = ("csv", "tsv", "jsonl", "parquet", "txt-folder")

Record = dict[str, Any]
MAX_FIELD_CHARS = 8_000_000  # longer than any document; a sign of a stray quote
ROW_LIKE_LINES = 10  # a quoted field with this many lines shaped like rows swallowed rows
_BOMS = {codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32",
         codecs.BOM_UTF16_LE: "UTF-16", codecs.BOM_UTF16_BE: "UTF-16"}
_READ_ERRORS = (OSError, EOFError, zlib.error)


@dataclass(frozen=True)
class Start:
    """Where to begin reading a text file part-way: after ``rows`` rows (CSV/TSV) or lines
    (JSONL) at byte ``offset`` of the decompressed text; Parquet: after ``rows`` rows."""

    rows: int
    offset: int
    lines: int  # physical lines before that row (for error messages)
    columns: list[str]


@dataclass
class Position:
    """Where the row last yielded begins: its byte offset, the rows (or JSONL lines) and
    the physical lines before it. ``start(columns)`` reopens a file there."""

    offset: int = 0
    before: int = 0
    lines: int = 0

    def start(self, columns: list[str]) -> Start:
        return Start(self.before, self.offset, self.lines, columns)


@dataclass
class Table:
    """A file opened for streaming: its columns and an iterator of rows. ``position``
    follows the rows, so that a reader can start again at any of them (``Start``)."""

    path: Path
    format: str
    columns: list[str]
    rows: Iterator[tuple[int, Record]]
    where: str = "row"  # how messages name a position: "row" or "line" or "file"
    position: Position = field(default_factory=Position)


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


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; unknown names and UTF-16/32 (read line by line as bytes,
    they would split characters) are refused."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ReplicoderError(
            f"unknown --encoding {encoding!r}; use a Python codec name such as utf-8, "
            "cp1252, latin-1 or utf-8-sig"
        ) from None
    if name.startswith(("utf-16", "utf-32")):
        raise ReplicoderError(
            f"--encoding {encoding}: UTF-16 and UTF-32 files are not read; save the file "
            "as UTF-8 (in Excel: 'CSV UTF-8'; or iconv -f UTF-16 -t UTF-8)"
        )
    return name


def _open_binary(path: Path) -> IO[bytes]:
    gz = path.suffix.lower() in (".gz", ".gzip")
    fh: IO[bytes] = gzip.open(path, "rb") if gz else path.open("rb")  # type: ignore[assignment]
    try:
        head = fh.peek(4)[:4] if hasattr(fh, "peek") else b""
    except _READ_ERRORS as exc:
        fh.close()
        raise ReplicoderError(_read_error(path, exc)) from None
    for bom, name in _BOMS.items():
        if head.startswith(bom):  # UTF-32 marks come first: they begin like UTF-16's
            fh.close()
            raise ReplicoderError(
                f"{path}: the file is {name} text (it starts with a {name} byte-order mark); "
                "save it as UTF-8 (in Excel: 'CSV UTF-8'; or iconv -f "
                f"{name} -t UTF-8) and import it again"
            )
    return fh


def _read_error(path: Path, exc: BaseException, line_no: int | None = None) -> str:
    where = f"{path}, line {line_no}" if line_no else str(path)
    if isinstance(exc, gzip.BadGzipFile | zlib.error):
        return (f"{where}: the file ends in .gz but is not valid gzip data ({exc}); "
                "rename it without .gz if it is not compressed, or re-create the archive")
    if isinstance(exc, EOFError):
        return (f"{where}: the compressed file is cut short ({exc}); the download or copy "
                "was incomplete: get the whole file again")
    return f"{where}: cannot read: {exc}"


def _decoded_lines(fh: IO[bytes], path: Path, encoding: str, read: Position,
                   line_no: int = 0) -> Iterator[str]:
    """Decoded lines; ``read.offset`` counts the bytes handed out so far."""
    raws = iter(fh)
    while True:
        try:
            raw = next(raws)
        except StopIteration:
            return
        except _READ_ERRORS as exc:
            raise ReplicoderError(_read_error(path, exc, line_no + 1)) from None
        line_no += 1
        read.offset += len(raw)
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ReplicoderError(
                f"{path}, line {line_no}: bytes that are not valid {encoding} "
                f"(byte 0x{raw[exc.start]:02x} at column {exc.start + 1}). "
                "Save the file as UTF-8, or pass --encoding with the file's encoding "
                "(for example cp1252 or latin-1)."
            ) from exc


def open_table(path: Path, *, encoding: str = "utf-8", start: Start | None = None) -> Table:
    """Open ``path`` for streaming; the format comes from its extension. ``start``: begin
    at a row a ``Table.position`` recorded earlier (not for folders of .txt files)."""
    path = Path(path)
    if not path.exists():
        raise ReplicoderError(f"{path}: no such file or folder")
    fmt = detect_format(path)
    encoding = check_encoding(encoding)
    if fmt in ("csv", "tsv"):
        return _open_delimited(path, fmt, encoding, start)
    if fmt == "jsonl":
        return _open_jsonl(path, encoding, start)
    if fmt == "parquet":
        return _open_parquet(path, start)
    if start is not None:
        raise ReplicoderError(f"{path}: a folder of .txt files is read whole, not from a row")
    return _open_folder(path, encoding)


def documents(table: Table, text: str, id_column: str | None
              ) -> Iterator[tuple[int, str, str]]:
    """(row number, document id, text) per row: the id is ``id_column``'s value or the row
    number. A missing column is an error at once; an empty text when its row is read."""
    missing = [c for c in (text, id_column) if c and c not in table.columns]
    if missing:
        raise ReplicoderError(
            f"{table.path}: no column {missing[0]!r}; the columns are: "
            f"{', '.join(table.columns)}. Name the text column with --text and the id column "
            "with --id"
        )
    return _documents(table, text, id_column)


def _documents(table: Table, text: str, id_column: str | None
               ) -> Iterator[tuple[int, str, str]]:
    for row_no, record in table.rows:
        value = record.get(text)
        body = "" if value is None else str(value)
        if not body.strip():
            raise ReplicoderError(
                f"{table.path}, {table.where} {row_no}: the text in column {text!r} is empty; "
                "remove the row or fill in its text"
            )
        doc_id = record.get(id_column) if id_column else row_no
        yield row_no, "" if doc_id is None else str(doc_id), body


def _open_delimited(path: Path, fmt: str, encoding: str, begin: Start | None) -> Table:
    csv.field_size_limit(sys.maxsize)
    delimiter = "\t" if fmt == "tsv" else ","
    fh = _open_binary(path)
    read = Position()
    if begin is not None:
        fh.seek(begin.offset)
        read.offset = begin.offset
    lines = _decoded_lines(fh, path, encoding, read)
    # strict: a quoted field still open at the end of the file is an error, not a document
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    if begin is not None:
        header = list(begin.columns)
    else:
        try:
            header = next(reader)
        except StopIteration:
            fh.close()
            raise ReplicoderError(f"{path}: the file is empty (no header row)") from None
        except csv.Error as exc:
            fh.close()
            raise ReplicoderError(f"{path}, line 1: malformed header: {exc}") from exc
        header = [h.lstrip("\ufeff").strip() for h in header]
        try:
            _check_header(path, header)
        except ReplicoderError:
            fh.close()
            raise
    skipped = begin.lines if begin is not None else 0
    position = Position()

    def rows() -> Iterator[tuple[int, Record]]:
        with fh:
            row_no = begin.rows if begin is not None else 0
            while True:
                start = skipped + reader.line_num + 1
                offset = read.offset
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ReplicoderError(_csv_error(path, fmt, row_no + 1, start,
                                                     skipped + reader.line_num, exc)) from None
                row_no += 1
                if not values:
                    continue
                if len(values) != len(header):
                    raise ReplicoderError(
                        f"{path}, row {row_no} (line {start}): {len(values)} fields "
                        f"but the header has {len(header)}; check quoting and the delimiter"
                    )
                if skipped + reader.line_num > start:
                    _check_long_fields(path, header, values, row_no, start, delimiter)
                position.offset, position.before, position.lines = offset, row_no - 1, start - 1
                yield row_no, dict(zip(header, values, strict=True))

    return Table(path, fmt, header, rows(), position=position)


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if name in seen:
            raise ReplicoderError(
                f"{path}, line 1: the header names column {name!r} twice (columns "
                f"{seen[name]} and {i}); rename one so that each column has its own name"
            )
        seen[name] = i


def _csv_error(path: Path, fmt: str, row_no: int, start: int, end: int,
               exc: csv.Error) -> str:
    if "unexpected end of data" in str(exc):
        return (f"{path}, row {row_no} (line {start}): a quoted field opened on this row "
                f"never closes: the rest of the file (to line {end}) would be one text. "
                'A stray quote (") is probably there; a quote inside a quoted field is '
                'written twice ("")')
    return (f"{path}, row {row_no} (line {start}): malformed {fmt.upper()}: {exc}; "
            'check the quoting near there (a quote inside a quoted field is written "")')


def _check_long_fields(path: Path, header: list[str], values: list[str], row_no: int,
                       start: int, delimiter: str) -> None:
    """A field that holds many lines shaped like this file's rows has swallowed them."""
    for name, value in zip(header, values, strict=True):
        if len(value) > MAX_FIELD_CHARS:
            raise ReplicoderError(
                f"{path}, row {row_no} (line {start}): field {name!r} is {len(value):,} "
                "characters long; a stray quote probably swallowed the rows after it. "
                "Fix the quoting there"
            )
        lines = value.split("\n")
        if len(header) < 2 or len(lines) < ROW_LIKE_LINES:
            continue
        shaped = sum(1 for values in csv.reader(lines, delimiter=delimiter)
                     if len(values) == len(header))
        if shaped >= ROW_LIKE_LINES and shaped * 2 > len(lines):
            raise ReplicoderError(
                f"{path}, row {row_no} (line {start}): field {name!r} spans {len(lines)} "
                f"lines, {shaped} of them shaped like rows of this file: a stray quote (\") "
                "on this row probably swallowed the rows after it. Fix the quoting there "
                '(a quote inside a quoted field is written "")'
            )


def _open_jsonl(path: Path, encoding: str, begin: Start | None) -> Table:
    fh = _open_binary(path)
    read = Position()
    if begin is not None:
        fh.seek(begin.offset)
        read.offset = begin.offset
    line_no = begin.rows if begin is not None else 0
    lines = _decoded_lines(fh, path, encoding, read, line_no)
    position = Position()

    def parse(line: str) -> Record:
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReplicoderError(f"{path}, line {line_no}: not valid JSON: {exc.msg}") from exc
        if not isinstance(value, dict):
            raise ReplicoderError(f"{path}, line {line_no}: each line must be a JSON object")
        return value

    def records() -> Iterator[tuple[int, Record]]:
        nonlocal line_no
        while True:
            offset = read.offset
            line = next(lines, None)
            if line is None:
                return
            line_no += 1
            if line.strip():
                position.offset, position.before = offset, line_no - 1
                position.lines = line_no - 1
                yield line_no, parse(line)

    stream = records()
    first = None if begin is not None else next(stream, None)
    if begin is None and first is None:
        fh.close()
        raise ReplicoderError(f"{path}: the file has no JSON records")
    columns = list(begin.columns) if begin is not None else list(first[1]) if first else []

    def rows() -> Iterator[tuple[int, Record]]:
        with fh:
            if first is not None:
                yield first
            yield from stream

    return Table(path, "jsonl", columns, rows(), where="line", position=position)


def _open_parquet(path: Path, begin: Start | None) -> Table:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise ReplicoderError(f"{path}: not a readable Parquet file: {exc}") from exc
    columns = list(pf.schema_arrow.names)
    skip = begin.rows if begin is not None else 0
    position = Position()

    def rows() -> Iterator[tuple[int, Record]]:
        row_no = 0
        for group in range(pf.num_row_groups):
            size = pf.metadata.row_group(group).num_rows
            if row_no + size <= skip:  # whole row groups before the start are not read
                row_no += size
                continue
            for batch in pf.iter_batches(batch_size=4096, row_groups=[group]):
                for record in batch.to_pylist():
                    row_no += 1
                    if row_no > skip:
                        position.before = row_no - 1
                        yield row_no, record

    return Table(path, "parquet", columns, rows(), position=position)


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
