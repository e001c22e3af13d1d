"""Deterministic input blocks for distributed classification, and reading one block alone.

A plan pass streams each input file once (in the driver), checks every row as the local
engine does, and records where each block of ``block_rows`` documents starts (a byte offset
for CSV/TSV/JSONL, a row index for Parquet). A worker then reads its block by seeking there,
so blocks are the same on every run (a resumed job skips the ones already written) and
hold the same documents, ids and row numbers as the local engine's checkpoints.
Gzip-compressed text has no random access: a worker decompresses from the file's start.
"""

from __future__ import annotations

import csv
import glob
import gzip
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from replicoder.errors import ReplicoderError
from replicoder.readers import detect_format

FORMATS = ("csv", "tsv", "jsonl", "parquet")


@dataclass(frozen=True)
class Block:
    """One block of one input file: ``n`` documents after ``before`` rows (or lines)."""

    path: str
    sha256: str
    format: str
    index: int
    n: int
    before: int  # rows (CSV/Parquet) or lines (JSONL) read before the block
    offset: int  # byte offset of the block in the (decompressed) text; unused for Parquet
    header: tuple[str, ...]

    @property
    def key(self) -> str:
        """The block's name: input file hash and block index."""
        return f"{self.sha256[:16]}-{self.index:08d}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "header": list(self.header)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Block:
        return Block(str(data["path"]), str(data["sha256"]), str(data["format"]),
                     int(data["index"]), int(data["n"]), int(data["before"]),
                     int(data["offset"]), tuple(str(h) for h in data["header"]))


@dataclass
class FilePlan:
    path: Path
    sha256: str
    format: str
    documents: int
    blocks: list[Block]


def list_inputs(spec: str | Path) -> list[Path]:
    """The input files: one file, the CSV/TSV/JSONL/Parquet files of a folder, or a glob."""
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _supported(p))
        where = f"the folder {path}"
    elif path.exists():
        files = [path]
        where = str(path)
    else:
        files = sorted(Path(p) for p in glob.glob(text, recursive=True)
                       if Path(p).is_file() and _supported(Path(p)))
        where = f"the pattern {text!r}"
        if not files and not glob.has_magic(text):
            raise ReplicoderError(f"{path}: no such input file or folder")
    if not files:
        raise ReplicoderError(
            f"{where} matches no CSV, TSV, JSONL or Parquet file; name a file, a folder of "
            "them or a quoted glob such as 'data/*.csv'"
        )
    for file in files:
        fmt = detect_format(file)
        if fmt not in FORMATS:
            raise ReplicoderError(f"{file}: the ray engine reads CSV, TSV, JSONL and Parquet")
    return files


def _supported(path: Path) -> bool:
    try:
        return detect_format(path) in FORMATS
    except ReplicoderError:
        return False


def plan_file(path: Path, sha256: str, block_rows: int, text: str,
              id_column: str | None) -> FilePlan:
    """Check every row of ``path`` and cut it into blocks of ``block_rows`` documents."""
    fmt = detect_format(path)
    starts: list[tuple[int, int]] = []  # (rows or lines before, byte offset) per block
    header: tuple[str, ...] = ()
    count = 0
    for before, offset, columns in _scan(path, fmt, text, id_column):
        header = columns
        if count % block_rows == 0:
            starts.append((before, offset))
        count += 1
    blocks = [Block(str(path.resolve()), sha256, fmt, i,
                    min(block_rows, count - i * block_rows), before, offset, header)
              for i, (before, offset) in enumerate(starts)]
    return FilePlan(path, sha256, fmt, count, blocks)


def _scan(path: Path, fmt: str, text: str, id_column: str | None
          ) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """For each document: (rows/lines before it, its byte offset, the header)."""
    if fmt == "parquet":
        yield from _scan_parquet(path, text, id_column)
        return
    with _open(path) as fh:
        if fmt == "jsonl":
            yield from _scan_jsonl(path, fh, text, id_column)
        else:
            yield from _scan_delimited(path, fh, fmt, text, id_column)


def _open(path: Path) -> IO[bytes]:
    if path.suffix.lower() in (".gz", ".gzip"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


class _Lines:
    """Decoded lines of a binary file, counting the bytes handed out so far."""

    def __init__(self, fh: IO[bytes], path: Path, line_no: int = 0) -> None:
        self.fh, self.path, self.offset, self.line_no = fh, path, 0, line_no

    def __iter__(self) -> Iterator[str]:
        for raw in self.fh:
            self.line_no += 1
            self.offset += len(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ReplicoderError(
                    f"{self.path}, line {self.line_no}: bytes that are not valid utf-8 "
                    f"(byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
                ) from exc


def _check_columns(path: Path, columns: tuple[str, ...], text: str,
                   id_column: str | None) -> None:
    missing = [c for c in (text, id_column) if c and c not in columns]
    if missing:
        raise ReplicoderError(
            f"{path}: no column {missing[0]!r}; the columns are: {', '.join(columns)}. "
            "Name the text column with --text and the id column with --id"
        )


def _check_text(path: Path, where: str, row_no: int, value: Any, text: str) -> None:
    if value is None or not str(value).strip():
        raise ReplicoderError(
            f"{path}, {where} {row_no}: the text in column {text!r} is empty; "
            "remove the row or fill in its text"
        )


def _scan_delimited(path: Path, fh: IO[bytes], fmt: str, text: str, id_column: str | None
                    ) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    csv.field_size_limit(sys.maxsize)
    lines = _Lines(fh, path)
    reader = csv.reader(iter(lines), delimiter="\t" if fmt == "tsv" else ",")
    try:
        header = tuple(h.lstrip("\ufeff").strip() for h in next(reader))
    except StopIteration:
        raise ReplicoderError(f"{path}: the file is empty (no header row)") from None
    _check_columns(path, header, text, id_column)
    col = header.index(text)
    row_no = 0
    while True:
        offset = lines.offset
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ReplicoderError(
                f"{path}, line {reader.line_num}: malformed {fmt.upper()}: {exc}") from exc
        row_no += 1
        if not values:
            continue
        if len(values) != len(header):
            raise ReplicoderError(
                f"{path}, row {row_no} (line {reader.line_num}): {len(values)} fields "
                f"but the header has {len(header)}; check quoting and the delimiter"
            )
        _check_text(path, "row", row_no, values[col], text)
        yield row_no - 1, offset, header


def _scan_jsonl(path: Path, fh: IO[bytes], text: str, id_column: str | None
                ) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    lines = _Lines(fh, path)
    header: tuple[str, ...] | None = None
    for line in lines:
        if not line.strip():
            continue
        record = _json_record(path, lines.line_no, line)
        if header is None:
            header = tuple(record)
            _check_columns(path, header, text, id_column)
        _check_text(path, "line", lines.line_no, record.get(text), text)
        yield lines.line_no - 1, lines.offset - len(line.encode("utf-8")), header
    if header is None:
        raise ReplicoderError(f"{path}: the file has no JSON records")


def _json_record(path: Path, line_no: int, line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReplicoderError(f"{path}, line {line_no}: not valid JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise ReplicoderError(f"{path}, line {line_no}: each line must be a JSON object")
    return value


def _scan_parquet(path: Path, text: str, id_column: str | None
                  ) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise ReplicoderError(f"{path}: not a readable Parquet file: {exc}") from exc
    header = tuple(pf.schema_arrow.names)
    _check_columns(path, header, text, id_column)
    row = 0
    for batch in pf.iter_batches(batch_size=65536, columns=[text]):
        for value in batch.column(0).to_pylist():
            row += 1
            _check_text(path, "row", row, value, text)
            yield row - 1, 0, header


def read_block(block: Block, text: str, id_column: str | None
               ) -> tuple[list[str], list[str], list[int]]:
    """The block's (ids, texts, row numbers); ids default to the row number, as locally."""
    rows = list(_block_records(block))
    if len(rows) != block.n:
        raise ReplicoderError(
            f"{block.path} changed since the job was planned (block {block.index} has "
            f"{len(rows)} documents, not {block.n}); delete the output folder and run again"
        )
    ids = [str(r[id_column]) if id_column else str(n) for n, r in rows]
    texts = ["" if r.get(text) is None else str(r[text]) for _, r in rows]
    return ids, texts, [n for n, _ in rows]


def _block_records(block: Block) -> Iterator[tuple[int, dict[str, Any]]]:
    path = Path(block.path)
    if block.format == "parquet":
        yield from _parquet_rows(path, block)
        return
    with _open(path) as fh:
        fh.seek(block.offset)
        if block.format == "jsonl":
            lines = _Lines(fh, path, block.before)
            got = 0
            for line in lines:
                if got == block.n:
                    return
                if line.strip():
                    got += 1
                    yield lines.line_no, _json_record(path, lines.line_no, line)
            return
        reader = csv.reader(iter(_Lines(fh, path)),
                            delimiter="\t" if block.format == "tsv" else ",")
        row_no, got = block.before, 0
        for values in reader:
            if got == block.n:
                return
            row_no += 1
            if values:
                got += 1
                yield row_no, dict(zip(block.header, values, strict=False))


def _parquet_rows(path: Path, block: Block) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    start, stop = block.before, block.before + block.n
    first = 0
    for group in range(pf.num_row_groups):
        size = pf.metadata.row_group(group).num_rows
        lo, hi = max(start, first), min(stop, first + size)
        if lo < hi:
            table = pf.read_row_group(group).slice(lo - first, hi - lo)
            for i, record in enumerate(table.to_pylist()):
                yield lo + i + 1, record
        first += size
