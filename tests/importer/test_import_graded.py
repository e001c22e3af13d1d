"""Graded gold labels on import: name:intensity cells and the paper's dict-literal answers."""

from __future__ import annotations

import ast
import csv
import gzip
from pathlib import Path

import pytest
from paths import FLOURISHING

from replicoder import importer
from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.study import Study


@pytest.fixture
def flourishing(tmp_path: Path) -> Study:
    return study_mod.init(tmp_path / "study", "flourishing")


def _csv(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "gold.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "labels"])
        writer.writerows(rows)
    return path


def test_name_intensity_cells_with_aliases_and_any_case(flourishing: Study,
                                                        tmp_path: Path) -> None:
    path = _csv(tmp_path, [
        ("1", "so happy", "happiness:HIGH; Mastery (ability or capability):low"),
        ("2", "broke again", "financial or material worry:Medium"),
        ("3", "grateful", "expressing_gratitude:low"),
    ])
    result = importer.import_file(flourishing, path, text="text", id="id", labels="labels")
    assert result.labelled_added == 3
    with flourishing.store() as store:
        assert store.gold() == {"1": {"happiness:high", "mastery:low"},
                                "2": {"financial_worry:medium"},
                                "3": {"expressing_gratitude:low"}}


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("happiness", "row 2: label 'happiness' has no intensity"),
        ("happiness:extreme", "row 2: unknown intensity 'extreme' for label 'happiness'"),
        ("happiness:high;Happiness:low", "row 2: label 'happiness' appears with two "
                                         "intensities"),
    ],
)
def test_bad_intensities_name_the_row_and_import_nothing(flourishing: Study, tmp_path: Path,
                                                         cell: str, message: str) -> None:
    path = _csv(tmp_path, [("1", "fine", "resilience:low"), ("2", "bad", cell)])
    with pytest.raises(ReplicoderError) as err:
        importer.import_file(flourishing, path, text="text", id="id", labels="labels")
    assert message in str(err.value) and "gold.csv" in str(err.value)
    with flourishing.store() as store:
        assert store.count_documents() == 0


def _answers_with_texts(tmp_path: Path) -> tuple[Path, dict[str, dict[str, str]]]:
    with gzip.open(FLOURISHING / "sample.csv.gz", "rt", encoding="utf-8") as fh:
        texts = {r["message_id"]: r["tweet_text"] for r in csv.DictReader(fh)}
    with gzip.open(FLOURISHING / "answers.csv.gz", "rt", encoding="utf-8") as fh:
        answers = {r["id"]: r["answer"] for r in csv.DictReader(fh)}
    path = tmp_path / "answers_texts.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "answer"])
        writer.writerows((i, texts[i], a) for i, a in answers.items())
    return path, {i: ast.literal_eval(a) for i, a in answers.items()}


def test_the_papers_dict_answers_import_as_graded_gold(flourishing: Study,
                                                       tmp_path: Path) -> None:
    path, expected = _answers_with_texts(tmp_path)
    result = importer.import_file(flourishing, path, text="text", id="id", labels="answer",
                                  labels_format="dict")
    assert result.labelled_added == len(expected) == 295
    book = flourishing.codebook
    with flourishing.store() as store:
        gold = store.gold()
    for doc_id, answer in expected.items():
        want = {f"{book.lookup(name)}:{level}" for name, level in answer.items()}
        assert gold[doc_id] == want, doc_id
    assert sum(len(v) for v in gold.values()) == sum(len(a) for a in expected.values())


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("__import__('os').system('touch pwned')", "not a dict literal"),
        ("['happiness', 'high']", "expected a dict of label name to intensity"),
        ("{'happiness': 3}", "expected a dict of label name to intensity"),
    ],
)
def test_dict_cells_are_literals_only(flourishing: Study, tmp_path: Path, cell: str,
                                      message: str) -> None:
    path = _csv(tmp_path, [("1", "text", cell)])
    with pytest.raises(ReplicoderError, match=message):
        importer.import_file(flourishing, path, text="text", id="id", labels="labels",
                             labels_format="dict")
    assert not Path("pwned").exists()
