"""How many classified documents were longer than the model reads and so were cut: counted
from the output parts' ``cut`` column (right after a resume too), for the manifest and the
one warning a classify run gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from replicoder.models.folder import ModelFolder
from replicoder.study import Study

__all__ = ["count_cut", "cut_entry", "cut_warning"]


def count_cut(parts: list[Path]) -> int:
    """Rows whose ``cut`` column is true (0 for parts without the column)."""
    import pyarrow.parquet as pq

    total = 0
    for part in parts:
        if "cut" in pq.read_schema(part).names:
            total += int(sum(pq.read_table(part, columns=["cut"])["cut"].to_pylist()))
    return total


def cut_entry(study: Study, model: str, cut: int, documents: int) -> dict[str, Any]:
    """The manifest's "cut": documents cut, their share, and the model's length settings."""
    settings = ModelFolder.of(study.models_dir, model).settings()
    return {"documents": cut, "share": cut / documents if documents else 0.0,
            "max_length": settings.get("max_length"),
            "long": settings.get("long", "truncate")}


def cut_warning(entry: dict[str, Any], documents: int) -> str | None:
    """The warning for the user, or None when nothing was cut."""
    if not entry["documents"]:
        return None
    how = ("only their first tokens were read" if entry["long"] == "truncate"
           else "only their first quarter and last three quarters were read")
    return (f"{entry['documents']:,} of {documents:,} documents ({100 * entry['share']:.1f}%) "
            f"were longer than the model's {entry['max_length']} tokens and were cut ({how}; "
            "the output's cut column marks them); train with --long chunk to read them whole")
