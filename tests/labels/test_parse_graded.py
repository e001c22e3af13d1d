"""Graded answers: JSON, dict literals (the flourishing study's own format) and lines."""

from __future__ import annotations

import ast
import csv
import gzip
from pathlib import Path

import pytest
from paths import FLOURISHING

from replicoder.labels import codebook as cb
from replicoder.labels.parse import parse_answer
from replicoder.labels.prompts import load_template

BOOK = cb.load("flourishing")


def test_every_answer_of_the_paper_parses_to_its_labels() -> None:
    with gzip.open(FLOURISHING / "answers.csv.gz", "rt", encoding="utf-8") as fh:
        answers = [r["answer"] for r in csv.DictReader(fh)]
    assert len(answers) == 295
    for answer in answers:
        parsed = parse_answer(answer, BOOK)
        want = {f"{BOOK.lookup(k)}:{v}" for k, v in ast.literal_eval(answer).items()}
        assert parsed.ok and parsed.labels == want, answer
        wrapped = parse_answer(f"Here are the dimensions:\n{answer}\nHope this helps.", BOOK)
        assert wrapped.labels == want


@pytest.mark.parametrize(
    ("answer", "labels"),
    [
        ('{"labels": [{"label": "happiness", "intensity": "high"}]}', {"happiness:high"}),
        ('```json\n{"labels": [{"code": "resilience", "level": "Low"}, '
         '{"label": "Mastery (ability or capability)", "intensity": "medium"}]}\n```',
         {"resilience:low", "mastery:medium"}),
        ('{"happiness": "high", "financial or material worry": "LOW"}',
         {"happiness:high", "financial_worry:low"}),
        ('{"labels": ["happiness:medium", "vitality:high"]}',
         {"happiness:medium", "vitality:high"}),
        ("happiness: high\n- resilience: low\n3. expressing gratitude => medium",
         {"happiness:high", "resilience:low", "expressing_gratitude:medium"}),
        ('{"labels": []}', set()),
    ],
)
def test_graded_answers(answer: str, labels: set[str]) -> None:
    parsed = parse_answer(answer, BOOK)
    assert parsed.ok, parsed.reason
    assert parsed.labels == labels


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('{"labels": ["happiness"]}', "label 'happiness' has no intensity"),
        ("happiness: extreme", "unknown intensity 'extreme' for label 'happiness'"),
        ('{"happiness": "high", "Happiness": "low"}', "given two intensities"),
        ("The tweet is joyful.", "no label with an intensity found"),
        ("{ 'happiness' : 'high', ", "no label with an intensity found"),
        ("", "empty answer"),
    ],
)
def test_malformed_graded_answers_stay_unparsed_with_a_reason(answer: str,
                                                              reason: str) -> None:
    parsed = parse_answer(answer, BOOK)
    assert not parsed.ok and not parsed.labels
    assert reason in parsed.reason


def test_the_prompt_lists_the_scale_and_asks_for_intensity() -> None:
    for spec in ("default", "short"):
        content = load_template(spec, Path("."), "").render(BOOK, "so happy")[0]["content"]
        assert "intensity on this scale, lowest first: low, medium, high" in content
        assert '"intensity": "<low|medium|high>"' in content
        assert "happiness: happiness" in content
    plain = load_template("default", Path("."), "").render(cb.load("cap"), "x")[0]["content"]
    assert "intensity" not in plain
