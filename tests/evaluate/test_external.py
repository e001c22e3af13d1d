"""replicoder.evaluate.external: predictions made elsewhere, matched to a (graded) codebook."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from replicoder.errors import ReplicoderError
from replicoder.evaluate.external import label_key, read_external
from replicoder.labels.codebook import parse

BOOK = parse("""
name: moods
multi_label: true
intensities: [low, medium, high]
labels:
  - {code: joy, name: Joy}
  - {code: worry, name: Financial/material worry}
""")


def test_label_key_matches_spellings() -> None:
    assert label_key("Financial/material worry") == label_key("financial or material worry")
    assert label_key(" FinancialMaterialWorry ") == label_key("financial material worry")


def test_long_format_with_intensity_column(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    pd.DataFrame({"tweet": ["1", "1", "2", "3"],
                  "dimension": [" JOY ", "financial or material worry", "joy", ""],
                  "value": ["High", "low", "medium", ""]}).to_csv(path, index=False)
    got = read_external(path, BOOK, id_column="tweet", label_column="dimension",
                        intensity_column="value")
    assert got.sets == {"1": frozenset({"joy:high", "worry:low"}),
                        "2": frozenset({"joy:medium"}), "3": frozenset()}
    assert got.rows == 4 and got.dropped == {}


def test_list_format_in_parquet(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pd.DataFrame({"id": ["a", "b"], "labels": [["joy:low", "Worry:HIGH"], []]}).to_parquet(path)
    got = read_external(path, BOOK)
    assert got.sets == {"a": frozenset({"joy:low", "worry:high"}), "b": frozenset()}


def test_unknown_labels_error_or_drop(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    pd.DataFrame({"id": ["1", "1", "2", "2"], "labels": ["joy:low", "boredom:high",
                                                         "joy:huge", "joy:low;joy:high"]}
                 ).to_csv(path, index=False)
    with pytest.raises(ReplicoderError, match=r"p.csv, row 2 \(document 1\): label 'boredom'"):
        read_external(path, BOOK)
    got = read_external(path, BOOK, drop=True)
    assert got.sets == {"1": frozenset({"joy:low"}), "2": frozenset({"joy:low"})}
    assert got.dropped == {"unknown_label": 1, "unknown_intensity": 1,
                           "conflicting_intensity": 1}
    assert got.dropped_examples["unknown_label"] == ["boredom"]


def test_missing_column_and_file(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    pd.DataFrame({"id": ["1"], "label": ["joy:low"]}).to_csv(path, index=False)
    with pytest.raises(ReplicoderError, match="no column 'labels'.*--pred-label-column"):
        read_external(path, BOOK)
    with pytest.raises(ReplicoderError, match="no such file"):
        read_external(tmp_path / "nope.csv", BOOK)
    with pytest.raises(ReplicoderError, match="label 'joy' has no intensity"):
        pd.DataFrame({"id": ["1"], "labels": ["joy"]}).to_csv(path, index=False)
        read_external(path, BOOK)
