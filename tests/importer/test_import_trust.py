"""Issue 25, items 10, 11, 12: changed gold labels on re-import, repeated dict keys, and
error messages of bounded size for huge cells."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from replicoder import importer
from replicoder import study as study_mod
from replicoder.cli import app
from replicoder.errors import ReplicoderError, listed, summarise
from replicoder.study import Study


def _csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "labels"])
        writer.writerows(rows)
    return path


def test_summarise_caps_long_lists() -> None:
    assert summarise(["a", "b"]) == "2: a, b"
    text = summarise([str(i) for i in range(200_000)], 3)
    assert text == "200,000 in all, first 3: 0, 1, 2"
    assert listed(["a", "b"]) == "a, b" and listed(["x" * 500]).endswith("… (500 characters)")


def test_changed_gold_is_refused_then_updated_on_request(cap_study: Study,
                                                         tmp_path: Path) -> None:
    rows = [("1", "farm bill", "4"), ("2", "health bill", "3"), ("3", "tax bill", "1"),
            ("4", "no label yet", "")]
    importer.import_file(cap_study, _csv(tmp_path / "a.csv", rows), text="text", id="id",
                         labels="labels")
    changed = [("1", "farm bill", "4"), ("2", "health bill", "5"), ("3", "tax bill", "12"),
               ("4", "no label yet", "7")]
    path = _csv(tmp_path / "b.csv", changed)
    with pytest.raises(ReplicoderError) as err:
        importer.import_file(cap_study, path, text="text", id="id", labels="labels")
    message = str(err.value)
    assert "2 documents already in the study come with other gold labels" in message
    assert "id '2' (row 2: 3 -> 5)" in message and "id '3' (row 3: 1 -> 12)" in message
    assert "--update-labels" in message and "Nothing was imported" in message
    with cap_study.store() as store:
        assert store.gold() == {"1": {"4"}, "2": {"3"}, "3": {"1"}}
    res = CliRunner().invoke(app, ["import", str(path), "--text", "text", "--id", "id",
                                   "--labels", "labels", "--update-labels",
                                   "--study", str(cap_study.root)])
    assert res.exit_code == 0, res.output
    assert "Replaced the gold labels of 2 documents" in res.output
    assert "Gave gold labels to 1 documents" in res.output
    with cap_study.store() as store:
        assert store.gold() == {"1": {"4"}, "2": {"5"}, "3": {"12"}, "4": {"7"}}
        imports = store.conn.execute("SELECT options FROM imports ORDER BY import_id"
                                     ).fetchall()
        assert json.loads(imports[-1][0])["update_labels"] is True
    manifest = json.loads(max((cap_study.root / "runs").glob("*/manifest.json"),
                              key=lambda p: p.stat().st_mtime).read_text("utf-8"))
    assert manifest["gold_updated"]["documents"] == 2
    assert {"id": "2", "row": 2, "old": ["3"], "new": ["5"]} in manifest["gold_updated"]["first"]


def test_same_gold_again_is_not_a_conflict(cap_study: Study, tmp_path: Path) -> None:
    path = _csv(tmp_path / "a.csv", [("1", "farm bill", "4;"), ("2", "x", "3")])
    importer.import_file(cap_study, path, text="text", id="id", labels="labels")
    again = importer.import_file(cap_study, path, text="text", id="id", labels="labels")
    assert again.already_present == 2 and again.gold_changed == 0


@pytest.mark.parametrize("cell", ["{'happiness': 'high', 'happiness': 'low'}",
                                  "{'happiness': 'high', 'happiness': 'high'}"])
def test_dict_with_a_repeated_key_is_refused(tmp_path: Path, cell: str) -> None:
    st = study_mod.init(tmp_path / "study", "flourishing")
    path = _csv(tmp_path / "g.csv", [("1", "fine", "{'resilience': 'low'}"), ("2", "x", cell)])
    with pytest.raises(ReplicoderError) as err:
        importer.import_file(st, path, text="text", id="id", labels="labels",
                             labels_format="dict")
    assert "row 2: the dict names 'happiness' twice" in str(err.value)
    with st.store() as store:
        assert store.count_documents() == 0


def test_a_200000_key_cell_gives_a_short_message(tmp_path: Path) -> None:
    st = study_mod.init(tmp_path / "study", "flourishing")
    cell = "{" + ", ".join(f"'k{i}': 'high'" for i in range(200_000)) + "}"
    path = _csv(tmp_path / "big.csv", [("1", "fine", "{'resilience': 'low'}"),
                                       ("2", "huge", cell)])
    with pytest.raises(ReplicoderError) as err:
        importer.import_file(st, path, text="text", id="id", labels="labels",
                             labels_format="dict")
    message = str(err.value)
    assert len(message) < 2000
    assert "1 rows carry labels that are not in the codebook" in message
    assert "200,000 in all, first 10: 'k0' (1 rows)" in message
