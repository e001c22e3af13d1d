from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from replicoder import importer
from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.study import Study


def _csv(tmp_path: Path, text: str, name: str = "docs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_acceptance_on_the_congress_bills(cap_study: Study, bills: Path) -> None:
    kwargs = {"text": "text", "id": "id", "labels": "major_topic"}
    with pytest.raises(ReplicoderError) as err:
        importer.import_file(cap_study, bills, **kwargs)  # type: ignore[arg-type]
    message = str(err.value)
    assert "30 rows carry labels that are not in the codebook: '99' (30 rows)" in message
    assert "--unknown-labels drop" in message and "Nothing was imported" in message
    with cap_study.store() as store:
        assert store.count_documents() == 0
    first = importer.import_file(cap_study, bills, unknown_labels="drop", **kwargs)  # type: ignore[arg-type]
    assert (first.added, first.labelled_added, first.dropped_unknown) == (1470, 1470, 30)
    again = importer.import_file(cap_study, bills, unknown_labels="drop", **kwargs)  # type: ignore[arg-type]
    assert again.added == 0 and again.already_present == 1470
    with cap_study.store() as store:
        assert store.count_documents(labelled=True) == 1470
        assert store.gold_counts()["3"] == 200


def test_keep_imports_documents_with_only_known_labels(cap_study: Study, bills: Path) -> None:
    result = importer.import_file(cap_study, bills, text="text", id="id", labels="major_topic",
                                  unknown_labels="keep")
    assert result.added == 1500 and result.labelled_added == 1470
    with cap_study.store() as store:
        assert store.count_documents(labelled=False) == 30


def test_missing_column_lists_the_columns(cap_study: Study, tmp_path: Path) -> None:
    path = _csv(tmp_path, "id,body\n1,hello\n")
    with pytest.raises(ReplicoderError) as err:
        importer.import_file(cap_study, path, text="text", id="id")
    assert "no column 'text' (asked for by --text)" in str(err.value)
    assert "'id', 'body'" in str(err.value)


def test_empty_texts_fail_or_skip(cap_study: Study, tmp_path: Path) -> None:
    path = _csv(tmp_path, "id,text\n1,hello\n2,\n3,   \n4,world\n")
    with pytest.raises(ReplicoderError) as err:
        importer.import_file(cap_study, path, text="text", id="id")
    assert "2 rows have an empty text (first at rows 2, 3)" in str(err.value)
    assert "--empty skip" in str(err.value)
    result = importer.import_file(cap_study, path, text="text", id="id", empty="skip")
    assert (result.added, result.skipped_empty) == (2, 2)


def test_same_id_with_another_text_is_refused(cap_study: Study, tmp_path: Path) -> None:
    importer.import_file(cap_study, _csv(tmp_path, "id,text\n1,hello\n"), text="text", id="id")
    changed = _csv(tmp_path, "id,text\n2,new\n1,goodbye\n", "b.csv")
    with pytest.raises(ReplicoderError) as err:
        importer.import_file(cap_study, changed, text="text", id="id")
    assert "same id comes with a different text" in str(err.value)
    assert "row 2: id '1'" in str(err.value)
    within = _csv(tmp_path, "id,text\n7,a\n7,b\n", "c.csv")
    with pytest.raises(ReplicoderError, match="row 2: id '7'"):
        importer.import_file(cap_study, within, text="text", id="id")
    with cap_study.store() as store:
        assert store.doc_ids() == ["1"]


def test_undecodable_bytes_name_the_line(cap_study: Study, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,text\n1,ok\n2,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ReplicoderError) as err:
        importer.import_file(cap_study, path, text="text", id="id")
    assert "line 3" in str(err.value) and "--encoding" in str(err.value)
    result = importer.import_file(cap_study, path, text="text", id="id", encoding="latin-1")
    assert result.added == 2
    with cap_study.store() as store:
        assert store.documents(["2"])[0].text == "caf\u00e9"


def test_formats_give_the_same_documents(cap_study: Study, tmp_path: Path) -> None:
    rows = [{"id": "a", "text": "Budget bill", "topic": "1", "year": 2001},
            {"id": "b", "text": "Farm bill", "topic": "4", "year": 2002}]
    (tmp_path / "d.tsv").write_text(
        "id\ttext\ttopic\tyear\n" + "".join(f"{r['id']}\t{r['text']}\t{r['topic']}\t{r['year']}\n"
                                            for r in rows), "utf-8")
    with gzip.open(tmp_path / "d.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    for name in ("d.tsv", "d.jsonl.gz", "d.parquet"):
        result = importer.import_file(cap_study, tmp_path / name, text="text", id="id",
                                      labels="topic", meta=["year"])
        assert result.added == (2 if name == "d.tsv" else 0), name
        assert result.already_present == (0 if name == "d.tsv" else 2), name
    with cap_study.store() as store:
        docs = store.documents(["a", "b"])
    assert [d.gold for d in docs] == [frozenset({"1"}), frozenset({"4"})]
    assert docs[1].meta == {"year": "2002"}


def test_folder_of_text_files(cap_study: Study, tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("First document", "utf-8")
    (folder / "sub" / "two.txt").write_text("Second document", "utf-8")
    result = importer.import_file(cap_study, folder)
    assert result.added == 2
    with cap_study.store() as store:
        assert store.doc_ids() == ["one", "sub/two"]
    assert importer.import_file(cap_study, folder).added == 0


def test_ids_from_text_hashes_are_idempotent(cap_study: Study, tmp_path: Path) -> None:
    path = _csv(tmp_path, "text\nalpha\nbeta\nalpha\n")
    first = importer.import_file(cap_study, path, text="text")
    assert (first.added, first.already_present) == (2, 1)
    assert importer.import_file(cap_study, path, text="text").added == 0


def test_labels_by_name_and_multi_label(tmp_path: Path) -> None:
    single = study_mod.init(tmp_path / "s", "cap")
    path = _csv(tmp_path, "id,text,labels\n1,a,Health\n2,b,3;12\n")
    with pytest.raises(ReplicoderError, match="single-label but some rows carry several"):
        importer.import_file(single, path, text="text", id="id", labels="labels")
    multi = study_mod.init(tmp_path / "m", "cap", multi_label=True)
    importer.import_file(multi, path, text="text", id="id", labels="labels")
    with multi.store() as store:
        assert store.gold() == {"1": frozenset({"3"}), "2": frozenset({"3", "12"})}


def test_labels_arrive_later_for_unlabelled_documents(cap_study: Study, tmp_path: Path) -> None:
    importer.import_file(cap_study, _csv(tmp_path, "id,text\n1,a\n"), text="text", id="id")
    later = _csv(tmp_path, "id,text,topic\n1,a,7\n", "later.csv")
    result = importer.import_file(cap_study, later, text="text", id="id", labels="topic")
    assert result.gold_filled == 1
    with cap_study.store() as store:
        assert store.gold() == {"1": frozenset({"7"})}


def test_bad_jsonl_and_csv_rows(cap_study: Study, tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"id": 1, "text": "a"}\n{oops\n', "utf-8")
    with pytest.raises(ReplicoderError, match="line 2: not valid JSON"):
        importer.import_file(cap_study, bad_json, text="text", id="id")
    ragged = _csv(tmp_path, "id,text\n1,a\n2,b,c\n")
    with pytest.raises(ReplicoderError, match="row 2 .*3 fields but the header has 2"):
        importer.import_file(cap_study, ragged, text="text", id="id")
    with pytest.raises(ReplicoderError, match="cannot tell the format"):
        importer.import_file(cap_study, _csv(tmp_path, "x", "a.xlsx"), text="text")


def test_study_init_and_open_errors(tmp_path: Path) -> None:
    study_mod.init(tmp_path / "s")
    with pytest.raises(ReplicoderError, match="already a study"):
        study_mod.init(tmp_path / "s")
    with pytest.raises(ReplicoderError, match="is not a replicoder study"):
        study_mod.open_study(tmp_path)
    opened = study_mod.open_study(tmp_path / "s")
    assert opened.codebook.codes[0] == "1"
    with opened.store() as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "replicoder.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_errors_are_messages_not_tracebacks(tmp_path: Path, bills: Path) -> None:
    outside = _cli("import", str(bills), "--text", "text", cwd=tmp_path)
    assert outside.returncode == 2
    assert "is not a replicoder study" in outside.stderr and "Traceback" not in outside.stderr
    assert _cli("init", "s", cwd=tmp_path).returncode == 0
    run = _cli("import", str(bills), "--text", "text", "--id", "id", "--labels",
               "major_topic", "--study", "s", cwd=tmp_path)
    assert run.returncode == 2 and "'99' (30 rows)" in run.stderr
    ok = _cli("import", str(bills), "--text", "text", "--id", "id", "--labels",
              "major_topic", "--unknown-labels", "drop", "--study", "s", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "added 1,470 documents (1,470 labelled)" in ok.stdout
    bad = _cli("init", "t", "--test-fraction", "0.4", "--validation-fraction", "0.2",
               cwd=tmp_path)
    assert bad.returncode == 2 and "at least half" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert _cli("init", "t", "--test-fraction", "0.1", cwd=tmp_path).returncode == 0
    assert study_mod.open_study(tmp_path / "t").split_fractions == (0.1, 0.1)
