"""The study's fixed train/validation/test split (real SQLite study, real bill titles)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from paths import BILLS

from replicoder import importer
from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.splits import ensure_split, split_ids


def make_study(root: Path, rows: pd.DataFrame, labels: bool = True) -> study_mod.Study:
    st = study_mod.init(root)
    csv = root / "docs.csv"
    rows.to_csv(csv, index=False)
    importer.import_file(st, csv, text="text", id="id",
                         labels="major_topic" if labels else None)
    return st


@pytest.fixture(scope="module")
def bill_rows() -> pd.DataFrame:
    df = pd.read_csv(BILLS)
    return df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(50)


def test_split_is_stratified_sized_and_stored(tmp_path: Path, bill_rows: pd.DataFrame) -> None:
    st = make_study(tmp_path / "a", bill_rows)
    parts = ensure_split(st)
    assert len(parts) == 200
    sizes = Counter(parts.values())
    assert sizes == {"train": 140, "validation": 20, "test": 40}
    topic = dict(zip(bill_rows.id.astype(str), bill_rows.major_topic, strict=True))
    for part, n in (("test", 10), ("validation", 5)):
        per_topic = Counter(topic[d] for d, p in parts.items() if p == part)
        assert set(per_topic.values()) == {n}, per_topic
    # kept in study.db: a fresh open gives the same split
    assert ensure_split(study_mod.open_study(tmp_path / "a")) == parts
    test = split_ids(st, "test")
    assert len(test) == 40 and set(test) == {d for d, p in parts.items() if p == "test"}


def test_same_seed_same_split_other_seed_other_split(tmp_path: Path,
                                                     bill_rows: pd.DataFrame) -> None:
    a = ensure_split(make_study(tmp_path / "a", bill_rows))
    b = ensure_split(make_study(tmp_path / "b", bill_rows))
    c = ensure_split(make_study(tmp_path / "c", bill_rows), seed=7)
    assert a == b
    assert a != c


def test_new_labelled_documents_never_move_old_ones(tmp_path: Path,
                                                    bill_rows: pd.DataFrame) -> None:
    st = make_study(tmp_path / "a", bill_rows.iloc[:150])
    before = ensure_split(st)
    extra = tmp_path / "more.csv"
    bill_rows.iloc[150:].to_csv(extra, index=False)
    importer.import_file(st, extra, text="text", id="id", labels="major_topic")
    after = ensure_split(st)
    assert len(after) == 200
    assert {d: after[d] for d in before} == before
    assert set(after.values()) <= {"train", "validation", "test"}


def test_split_errors(tmp_path: Path, bill_rows: pd.DataFrame) -> None:
    st = make_study(tmp_path / "a", bill_rows)
    ensure_split(st)
    with pytest.raises(ReplicoderError, match="seed 0, not 5"):
        ensure_split(st, seed=5)
    with pytest.raises(ReplicoderError, match="unknown split part"):
        split_ids(st, "dev")
    unlabelled = make_study(tmp_path / "b", bill_rows, labels=False)
    with pytest.raises(ReplicoderError, match="no labelled documents"):
        ensure_split(unlabelled)
    empty = study_mod.init(tmp_path / "c")
    with pytest.raises(ReplicoderError, match="no labelled documents"):
        ensure_split(empty)


def test_fractions_set_at_init_size_the_split_and_later_documents(
        tmp_path: Path, bill_rows: pd.DataFrame) -> None:
    root = tmp_path / "a"
    st = study_mod.init(root, test_fraction=0.1, validation_fraction=0.05)
    csv = tmp_path / "docs.csv"
    bill_rows.iloc[:100].to_csv(csv, index=False)
    importer.import_file(st, csv, text="text", id="id", labels="major_topic")
    sizes = Counter(ensure_split(study_mod.open_study(root)).values())
    assert sizes == {"train": 85, "validation": 5, "test": 10}
    # later documents take the stored fractions, even if the toml is edited afterwards
    st = study_mod.open_study(root)
    st.config["split"] = {"test": 0.4, "validation": 0.1}
    st.save_config()
    bill_rows.iloc[100:].to_csv(csv, index=False)
    importer.import_file(st, csv, text="text", id="id", labels="major_topic")
    new_ids = set(bill_rows.id.iloc[100:].astype(str))
    later = [p for d, p in ensure_split(st).items() if d in new_ids]
    assert len(later) == 100
    assert Counter(later)["test"] < 20  # ~10 of 100 at 0.1; 0.4 would give ~40


@pytest.mark.parametrize("test, validation", [(0.0, 0.1), (0.3, 0.3), (0.2, -0.1), (1.2, 0.1)])
def test_bad_fractions_are_refused_with_a_clear_error(tmp_path: Path, test: float,
                                                      validation: float) -> None:
    with pytest.raises(ReplicoderError, match="at least half"):
        study_mod.init(tmp_path / "a", test_fraction=test, validation_fraction=validation)
    assert not (tmp_path / "a" / study_mod.CONFIG).exists()
