"""Deterministic input blocks for distributed classification, and reading one block alone.

A plan pass streams each input file once (in the driver), checks every row as the local
engine does, and records where each block of ``block_rows`` documents starts (a byte offset
for CSV/TSV/JSONL, a row index for Parquet). A worker then reads its block by seeking there,
so blocks are the same on every run (a resumed job skips the ones already written) and
hold the same documents, ids and row numbers as the local engine's checkpoints.
Gzip-compressed text has no random access: a worker decompresses from the file's start.
"""

from __future__ import annotations

import glob
import itertools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from replicoder.errors import ReplicoderError, summarise
from replicoder.io.readers import Start, detect_format, documents, open_table

__all__ = ["FORMATS", "Block", "FilePlan", "input_files", "list_inputs", "plan_file", "read_block"]

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
    lines: int  # physical lines before the block (for error messages)
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
                     int(data["offset"]), int(data["lines"]),
                     tuple(str(h) for h in data["header"]))


@dataclass
class FilePlan:
    path: Path
    sha256: str
    format: str
    documents: int
    blocks: list[Block]


def list_inputs(spec: str | Path, skip_unreadable: bool = False) -> list[Path]:
    """The input files: one file, the CSV/TSV/JSONL/Parquet files of a folder, or a glob.
    Other files in the folder (or matched by the glob) stop it with their list, unless
    ``skip_unreadable`` (see :func:`input_files`)."""
    return input_files(spec, skip_unreadable)[0]


def input_files(spec: str | Path, skip_unreadable: bool = False
                ) -> tuple[list[Path], list[Path]]:
    """(files to read, files left out). A folder or glob that holds files the ray engine
    cannot read (.txt, .xlsx, ...) is refused with their list, or with ``skip_unreadable``
    they are left out and returned for a warning. Hidden files (".name") are not inputs."""
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and not any(
            part.startswith(".") for part in p.relative_to(path).parts))
        where = f"the folder {path}"
    elif path.exists():
        found = [path]
        where = str(path)
    else:
        found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        where = f"the pattern {text!r}"
        if not found and not glob.has_magic(text):
            raise ReplicoderError(f"{path}: no such input file or folder")
    if not found:
        raise ReplicoderError(
            f"{where} matches no CSV, TSV, JSONL or Parquet file; name a file, a folder of "
            "them or a quoted glob such as 'data/*.csv'"
        )
    if path.is_file() and not _supported(path):
        raise ReplicoderError(f"{path}: the ray engine reads CSV, TSV, JSONL and Parquet")
    files = [p for p in found if _supported(p)]
    other = [p for p in found if not _supported(p)]
    if other and (not skip_unreadable or not files):
        names = [(p.relative_to(path) if path.is_dir() else p).as_posix() for p in other]
        raise ReplicoderError(
            f"{where} holds {len(other):,} files the ray engine cannot read (it reads CSV, "
            f"TSV, JSONL and Parquet, optionally .gz): {summarise(names)}. Convert them, "
            "move them out"
            + (", or pass --skip-unreadable to leave them out (listed in the run manifest)"
               if files else "")
            + "; nothing was classified")
    return files, other


def _supported(path: Path) -> bool:
    try:
        return detect_format(path) in FORMATS
    except ReplicoderError:
        return False


def plan_file(path: Path, sha256: str, block_rows: int, text: str,
              id_column: str | None) -> FilePlan:
    """Check every row of ``path`` (as the local engine does) and cut it into blocks of
    ``block_rows`` documents, each remembering where it starts."""
    fmt = detect_format(path)
    table = open_table(path)
    starts: list[Start] = []
    count = 0
    for _ in documents(table, text, id_column):
        if count % block_rows == 0:
            starts.append(table.position.start(table.columns))
        count += 1
    blocks = [Block(str(path.resolve()), sha256, fmt, i,
                    min(block_rows, count - i * block_rows), start.rows, start.offset,
                    start.lines, tuple(start.columns))
              for i, start in enumerate(starts)]
    return FilePlan(path, sha256, fmt, count, blocks)


def read_block(block: Block, text: str, id_column: str | None
               ) -> tuple[list[str], list[str], list[int]]:
    """The block's (ids, texts, row numbers); ids default to the row number, as locally."""
    start = Start(block.before, block.offset, block.lines, list(block.header))
    table = open_table(Path(block.path), start=start)
    rows = list(itertools.islice(documents(table, text, id_column), block.n))
    if len(rows) != block.n:
        raise ReplicoderError(
            f"{block.path} changed since the job was planned (block {block.index} has "
            f"{len(rows)} documents, not {block.n}); delete the output folder and run again"
        )
    return [r[1] for r in rows], [r[2] for r in rows], [r[0] for r in rows]
