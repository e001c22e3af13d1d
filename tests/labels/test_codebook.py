from __future__ import annotations

from pathlib import Path

import pytest

from replicoder.errors import ReplicoderError
from replicoder.labels import codebook as cb
from replicoder.labels import graded


def test_cap_has_the_major_topics_with_descriptions() -> None:
    book = cb.load("cap")
    expected = [str(c) for c in [*range(1, 11), *range(12, 22), 23]]
    assert book.codes == expected
    assert not book.multi_label
    for lab in book.labels:
        assert lab.name
        sentences = [s for s in lab.description.split(". ") if s]
        assert 1 <= len(sentences) <= 3, lab.code
    assert book.label("3").name == "Health"


def test_round_trip_keeps_the_hash() -> None:
    book = cb.load("cap")
    again = cb.parse(book.to_yaml())
    assert again.codes == book.codes and again.sha256 == book.sha256
    multi = book.with_multi_label(True)
    assert multi.multi_label and multi.sha256 != book.sha256
    assert cb.parse(multi.to_yaml()).multi_label


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "book.yaml"
    path.write_text(text, "utf-8")
    return path


def test_custom_codebook_with_examples(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
name: Tone
multi_label: true
labels:
  - code: pos
    name: Positive
    description: Praise.
    examples: ["Great work", "Well done"]
  - code: 2
    name: Negative
""")
    book = cb.load(path)
    assert book.codes == ["pos", "2"] and book.multi_label
    assert book.label("pos").examples == ("Great work", "Well done")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("labels:\n  - code: 1\n    name: A\n  - code: 1\n    name: B\n",
         "line 4: duplicate code '1' (first defined on line 2)"),
        ("labels:\n  - code: 1\n    description: no name\n", "line 2: label is missing 'name'"),
        ("labels:\n  - code: 1\n    name: [a, b]\n", "line 3: 'name' must be a single value"),
        ("labels:\n  - code: 1\n    name: A\n    colour: red\n",
         "line 4: unknown label field 'colour'"),
        ("multi_label: maybe\nlabels:\n  - {code: 1, name: A}\n",
         "line 1: 'multi_label' must be true or false"),
        ("labels: []\n", "'labels' must be a non-empty list"),
        ("name: x\n", "missing 'labels'"),
        ("labels:\n  - code: 1\n    name: A\n  - code: 2\n   name: B\n", "not valid YAML"),
        ("labels:\n  - code: 1\n    name: A\n    examples: one\n",
         "line 4: 'examples' must be a list"),
    ],
)
def test_bad_codebooks_name_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ReplicoderError) as err:
        cb.load(_write(tmp_path, text))
    assert message in str(err.value)
    assert "book.yaml" in str(err.value)


def test_unknown_builtin_or_missing_file() -> None:
    with pytest.raises(ReplicoderError, match="no such file"):
        cb.load("nope.yaml")


GRADED = """name: flourishing
multi_label: true
intensities: [low, medium, high]
labels:
  - {code: happiness, name: Happiness}
  - {code: loneliness, name: Loneliness}
"""


def test_graded_codebook_values_and_round_trip() -> None:
    book = cb.parse(GRADED)
    assert book.graded and book.intensities == ("low", "medium", "high")
    assert book.values[:3] == ["happiness:low", "happiness:medium", "happiness:high"]
    again = cb.parse(book.with_multi_label(True).to_yaml())
    assert again.intensities == book.intensities and again.values == book.values
    assert not cb.parse(GRADED.replace("intensities: [low, medium, high]\n", "")).graded


@pytest.mark.parametrize("bad, message", [
    ("intensities: [low]", "at least two levels"),
    ("intensities: [low, Low]", "given twice"),
    ("intensities: [low, 'a:b']", "without ':'"),
])
def test_graded_codebook_bad_scale(bad: str, message: str) -> None:
    with pytest.raises(ReplicoderError, match=message):
        cb.parse(GRADED.replace("intensities: [low, medium, high]", bad))


def test_graded_code_with_separator_refused() -> None:
    with pytest.raises(ReplicoderError, match="line 5.*contains ':'"):
        cb.parse(GRADED.replace("code: happiness", "code: 'hap:piness'"))


def test_graded_values() -> None:
    book = cb.parse(GRADED)
    assert graded.split("happiness:high") == ("happiness", "high")
    assert graded.split("3") == ("3", None)
    assert graded.resolve(book, "happiness", "HIGH", "f.csv, row 2") == "happiness:high"
    with pytest.raises(ReplicoderError, match="f.csv, row 2: unknown intensity 'huge'"):
        graded.resolve(book, "happiness", "huge", "f.csv, row 2")
    with pytest.raises(ReplicoderError, match="has no intensity"):
        graded.resolve(book, "happiness", None, "f.csv, row 2")
    with pytest.raises(ReplicoderError, match="two intensities"):
        graded.check(book, {"happiness:low", "happiness:high"}, "doc 7")
    with pytest.raises(ReplicoderError, match="not a value"):
        graded.check(book, {"happiness"}, "doc 7")
    assert graded.with_level({"happiness:low", "loneliness:high"}, "happiness", "high") == {
        "happiness:high", "loneliness:high"}
    assert graded.presence({"happiness:low", "loneliness:high"}) == {"happiness", "loneliness"}
    plain = cb.load("cap")
    with pytest.raises(ReplicoderError, match="not graded"):
        graded.resolve(plain, "1", "low", "f.csv, row 2")


ALIASED = """\
name: Flourishing bits
multi_label: true
intensities: [low, medium, high]
labels:
  - code: mastery
    name: Mastery (ability, capability)
    aliases: ["mastery (ability or capability)", mastery]
  - code: worry
    name: Financial/material worry
    aliases: [financial or material worry]
"""


def test_aliases_match_ignoring_case_and_spaces() -> None:
    book = cb.parse(ALIASED)
    assert book.label("mastery").aliases == ("mastery (ability or capability)", "mastery")
    assert book.lookup("  Mastery (ABILITY or   capability) ") == "mastery"
    assert book.lookup("mastery (ability, capability)") == "mastery"
    assert book.lookup("FINANCIAL OR MATERIAL WORRY") == "worry"
    assert book.lookup("worry") == "worry"  # a code as written
    assert book.lookup("Worry") is None  # codes are exact; "Worry" is no name or alias
    assert book.lookup("material worry") is None
    again = cb.parse(cb.Codebook(book.name, book.labels, True,
                                 intensities=book.intensities).to_yaml())
    assert again.label("worry").aliases == ("financial or material worry",)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("  - {code: m2, name: Other, aliases: [' MASTERY ']}\n",
         "line 11: label 'm2' alias 'MASTERY' differs from 'mastery' (alias, line 5)"),
        ("  - {code: m2, name: financial OR material worry}\n",
         "line 11: label 'm2' name 'financial OR material worry' differs from "
         "'financial or material worry' (alias, line 8)"),
        ("  - {code: m2, name: X, aliases: [X]}\n",
         "line 11: label 'm2' alias 'X' is the same as 'X' (name, line 11)"),
        ("  - {code: m2, name: X, aliases: x}\n", "line 11: 'aliases' must be a list"),
        ("  - {code: m2, name: X, aliases: ['']}\n", "line 11: an alias is empty"),
    ],
)
def test_alias_clashes_name_both_lines(extra: str, message: str) -> None:
    with pytest.raises(ReplicoderError) as err:
        cb.parse(ALIASED + extra, "book.yaml")
    assert message in str(err.value)


def test_an_alias_may_not_be_another_labels_code() -> None:
    with pytest.raises(ReplicoderError, match="alias 'worry' is the code of label"):
        cb.parse(ALIASED + "  - {code: m2, name: X, aliases: [worry]}\n")


def test_flourishing_names_every_spelling_in_the_paper_data() -> None:
    import ast
    import csv
    import gzip

    from paths import FLOURISHING

    book = cb.load("flourishing")
    assert len(book) == 46 and book.multi_label and book.intensities == ("low", "medium", "high")
    with gzip.open(FLOURISHING / "all-llms-codings.csv.gz", "rt", encoding="utf-8") as fh:
        names = {row["dimension"] for row in csv.DictReader(fh)}
    with gzip.open(FLOURISHING / "answers.csv.gz", "rt", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names |= set(ast.literal_eval(row["answer"]))
    assert all(book.lookup(n) for n in names), [n for n in names if not book.lookup(n)]
    assert book.lookup(" Mastery (ability or capability) ") == "mastery"
    assert book.lookup("Financial or material worry") == "financial_worry"
    assert book.lookup(" happiness ") == "happiness"  # the padded names of classified-L2-*
