"""Tabular output by extension: .parquet, .csv, .jsonl or Stata .dta.

Results are first written as Parquet parts (one per checkpoint), then joined into the
output file in one atomic step.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from replicoder.errors import ReplicoderError

__all__ = ["FORMATS", "assemble", "check_output", "part_rows", "write_part"]

FORMATS = (".parquet", ".csv", ".jsonl", ".dta")


def check_output(path: Path) -> str:
    """The output format (its extension), or a clear error."""
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise ReplicoderError(
            f"{path}: cannot write {ext or 'a file without extension'}; "
            f"end the output name with one of {', '.join(FORMATS)}"
        )
    return ext


def write_part(table: pa.Table, path: Path) -> None:
    """Write one Parquet part atomically (readers never see half a part)."""
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def part_rows(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


def assemble(parts: Sequence[Path], out: Path) -> None:
    """Join the parts, in order, into ``out`` (format by extension), atomically."""
    ext = check_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=ext, dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        if ext == ".parquet":
            schema = pq.read_schema(parts[0])
            with pq.ParquetWriter(tmp, schema) as writer:
                for part in parts:
                    writer.write_table(pq.read_table(part))
        elif ext == ".csv":
            import pyarrow.csv as pcsv

            with pcsv.CSVWriter(tmp, pq.read_schema(parts[0])) as writer:
                for part in parts:
                    writer.write_table(pq.read_table(part))
        elif ext == ".jsonl":
            with tmp.open("w", encoding="utf-8") as fh:
                for part in parts:
                    pq.read_table(part).to_pandas().to_json(fh, orient="records", lines=True,
                                                            force_ascii=False)
        else:
            import pandas as pd

            frame = pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
            frame.to_stata(tmp, write_index=False, version=118)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
