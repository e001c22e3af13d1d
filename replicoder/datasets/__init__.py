"""Data that ship with replicoder or that it knows how to read.

- bills: the shipped sample of 1,000 CAP-coded US bill titles, as a ready study;
- flourishing: the seed paper's human-flourishing replication files, replayed as a study.

``replay`` and ``recipe`` are imported on first use: the flourishing replay needs evaluate
and train, which the shipped sample (the demo's first step) does not.
"""

from __future__ import annotations

from typing import Any

from replicoder.datasets.bills import SAMPLE, sample_path, sample_study

__all__ = ["SAMPLE", "recipe", "replay", "sample_path", "sample_study"]


def __getattr__(name: str) -> Any:
    if name in ("recipe", "replay"):
        from replicoder.datasets import flourishing

        return getattr(flourishing, name)
    raise AttributeError(f"module 'replicoder.datasets' has no attribute {name!r}")
