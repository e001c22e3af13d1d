"""Warnings about the ids of a classified output: empty ones, and ids repeated within one
input file or across input files. Later steps match documents by id, so
`replicoder estimate` and `replicoder review sample --from` refuse such an output."""

from __future__ import annotations

from pathlib import Path

__all__ = ["LATER", "id_warnings"]

LATER = ("`replicoder estimate` and `review sample --from` will refuse this output; "
         "check the --id column of the input")


def id_warnings(parts: list[Path]) -> list[str]:
    """Empty or repeated ids in the output parts (with an ``input_file`` column: repeats
    within a file and across files counted apart)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables = [pq.read_table(p, columns=[c for c in ("id", "input_file")
                                        if c in pq.read_schema(p).names]) for p in parts]
    ids = pc.cast(pa.chunked_array([t["id"] for t in tables]), pa.string())
    out: list[str] = []
    blank = pc.equal(pc.utf8_trim_whitespace(ids.fill_null("")), "")
    empty = int(pc.sum(blank).as_py() or 0)
    if empty:
        out.append(f"{empty:,} rows have an empty id; {LATER}")
    named = pc.invert(blank)
    ids_named = pc.filter(ids, named)  # empty ids are counted once, above
    repeated = len(ids_named) - int(pc.count_distinct(ids_named, mode="all").as_py())
    if not repeated:
        return out
    if all("input_file" in t.column_names for t in tables):
        files = pc.filter(pa.chunked_array([t["input_file"] for t in tables]), named)
        pairs = pa.table({"id": ids_named, "file": files})
        within = len(pairs) - pairs.group_by(["id", "file"]).aggregate([]).num_rows
        across = repeated - within
        if within:
            out.append(f"{within:,} rows repeat an id seen before in the same input file; "
                       f"{LATER}")
        if across:
            out.append(f"{across:,} rows repeat an id of another input file (ids are not "
                       f"unique across the files); {LATER}")
        return out
    out.append(f"{repeated:,} rows repeat an id seen before (ids are not unique); {LATER}")
    return out
