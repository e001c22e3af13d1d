"""Review logic on a real study.db: decisions, drafts, the verified set, assignment, export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from replicoder import importer
from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.review import adjudication, session
from replicoder.review.assignment import assign, parse_coders
from replicoder.review.export import export_verified
from replicoder.store import Proposal, Store

TEXTS = {
    "d1": "A bill to reform Medicare drug prices.",
    "d2": "To suspend temporarily the duty on bicycle parts.",
    "d3": "<script>alert(1)</script>",
    "d4": "To protect wetlands and migratory birds.",
}


def make_study(tmp_path: Path, codebook: str = "cap") -> study_mod.Study:
    st = study_mod.init(tmp_path / "study", codebook)
    src = tmp_path / "docs.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        writer.writerows(TEXTS.items())
    importer.import_file(st, src, text="text", id="id")
    return st


def propose(store: Store, doc_id: str, **by: list[str]) -> None:
    store.add_proposals(
        Proposal(doc_id, name, frozenset(codes), "ok", json.dumps(codes), {}, "2026-01-01")
        for name, codes in by.items()
    )


def test_decision_latest_wins_and_replaces_draft(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    book = st.codebook
    with st.store() as store:
        propose(store, "d1", llm_a=["3"], llm_b=["3", "7"])
        view = session.view(store, "anna", "d1")
        assert view.proposed == {"3": ["llm_a", "llm_b"], "7": ["llm_b"]}
        assert view.rejected == frozenset() and not view.saved
        session.save_draft(store, book, "anna", "d1", ["7"], [], False, 2.5)
    with st.store() as store:  # a new connection, as after a reload or a crash
        view = session.view(store, "anna", "d1")
        assert view.rejected == {"7"} and view.seconds == 2.5
        d = session.decide(store, book, "anna", "d1", ["7"], [], False, 3.0)
        assert (d.kept, d.rejected, d.final) == ({"3"}, {"7"}, {"3"})
        assert store.draft("d1", "anna") is None
        assert session.next_undecided(store, "anna") == "d2"
        session.decide(store, book, "anna", "d1", ["3"], [], False, 1.0)  # changed mind
        assert [x.final for x in store.decisions("anna")] == [{"7"}]
        assert store.decision_log_size() == 2
        prog = session.progress(store, "anna")
        assert (prog.done, prog.total, prog.median_seconds) == (1, 4, 1.0)


def test_manual_coding_without_proposals(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    with st.store() as store:
        d = session.decide(store, st.codebook, "anna", "d2", [], ["18"], False, 4.0)
        assert d.final == {"18"} and d.added == {"18"} and d.proposed == {}
        assert store.verified_labels() == {"d2": frozenset({"18"})}


def test_bad_decisions_are_refused_with_clear_errors(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    book = st.codebook
    with st.store() as store:
        propose(store, "d1", llm_a=["3"], llm_b=["7"])
        with pytest.raises(ReplicoderError, match="single-label.*exactly one"):
            session.decide(store, book, "anna", "d1", [], [], False, 1.0)
        with pytest.raises(ReplicoderError, match="'999'.*not in the codebook"):
            session.decide(store, book, "anna", "d2", [], ["999"], False, 1.0)
        with pytest.raises(ReplicoderError, match="not in anna's queue"):
            session.decide(store, book, "anna", "nope", [], ["3"], False, 1.0)
        with pytest.raises(ReplicoderError, match="coder name"):
            session.check_coder(store, "a b<")
        assert store.decisions() == []
        # unclear needs no label
        session.decide(store, book, "anna", "d1", [], [], True, 1.0)
        assert store.verified_labels() == {}


def test_verified_set_rules(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    book = st.codebook
    assign(st, ["anna", "ben"], overlap=1.0)
    with st.store() as store:
        assert store.queue("anna") == store.queue("ben") == list(TEXTS)
        for doc, a, b in [("d1", "3", "3"), ("d2", "18", "15"), ("d3", "3", None),
                          ("d4", "7", "7")]:
            session.decide(store, book, "anna", doc, [], [a], doc == "d4", 1.0)
            if b:
                session.decide(store, book, "ben", doc, [], [b], False, 1.0)
        v = {x.doc_id: x for x in store.verified()}
        # d2: disagreement; d3: ben has not decided; d4: anna flagged unclear
        assert set(v) == {"d1"} and (v["d1"].decided_by, v["d1"].how) == ("anna+ben", "agreed")
        pending = [d.doc_id for d in adjudication.disagreements(store)]
        assert pending == ["d2", "d4"]
        adjudication.adjudicate(store, book, "carla", "d2", ["15"])
        adjudication.adjudicate(store, book, "carla", "d4", [], unclear=True)
        with pytest.raises(ReplicoderError, match="single-label"):
            adjudication.adjudicate(store, book, "carla", "d4", ["7", "3"])
        with pytest.raises(ReplicoderError, match="not in this study"):
            adjudication.adjudicate(store, book, "carla", "zzz", ["7"])
        assert store.verified_labels() == {"d1": {"3"}, "d2": {"15"}}
        assert [x.how for x in store.verified()] == ["agreed", "adjudicated"]


def test_assign_balances_coders_and_overlap(tmp_path: Path) -> None:
    st = study_mod.init(tmp_path / "study", "cap")
    with st.store() as store:
        store.add_documents((f"d{i:03}", f"text {i}", f"sha{i}", {}, None) for i in range(100))
    result = assign(st, ["a", "b", "c"], overlap=0.2, seed=1)
    assert result.documents == 100 and result.overlap_docs == 20
    assert sum(result.per_coder.values()) == 120
    assert max(result.per_coder.values()) - min(result.per_coder.values()) <= 1
    with st.store() as store:
        by_doc = store.assignments()
        assert len(by_doc) == 100 and sum(len(c) == 2 for c in by_doc.values()) == 20
        first = by_doc
        assert store.list_runs("assign")[0]["manifest"]["overlap"] == 0.2
    assign(st, ["a", "b", "c"], overlap=0.2, seed=1)
    with st.store() as store:
        assert store.assignments() == first  # same seed, same assignment
        with pytest.raises(ReplicoderError, match="'zed' has no assigned documents"):
            session.check_coder(store, "zed")


@pytest.mark.parametrize(
    ("coders", "overlap", "message"),
    [("a", 0.2, "at least two coders"), ("a,b", 1.5, "between 0 and 1"),
     ("a,a", 0.1, "listed twice"), (" , ", 0.1, "coder names"), ("a,b c", 0.1, "coder name")],
)
def test_assign_errors(tmp_path: Path, coders: str, overlap: float, message: str) -> None:
    st = make_study(tmp_path)
    with pytest.raises(ReplicoderError, match=message):
        assign(st, parse_coders(coders), overlap)


def test_assign_only_proposed_needs_proposals(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    with pytest.raises(ReplicoderError, match="no documents to assign"):
        assign(st, ["a", "b"], 0.5, only_proposed=True)
    with st.store() as store:
        propose(store, "d4", llm_a=["7"])
    assert assign(st, ["a", "b"], 0.0, only_proposed=True).documents == 1


def test_export_formats_round_trip(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    with pytest.raises(ReplicoderError, match="no verified documents"):
        export_verified(st, tmp_path / "v.csv")
    with st.store() as store:
        propose(store, "d3", llm_a=["3"], llm_b=["12"])
        session.decide(store, st.codebook, "anna", "d3", ["12"], [], False, 2.0)
        session.decide(store, st.codebook, "anna", "d1", [], ["3"], False, 2.0)
    want = [("d1", TEXTS["d1"], ["3"]), ("d3", TEXTS["d3"], ["3"])]
    res = export_verified(st, tmp_path / "v.csv")
    with res.path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["doc_id"], r["text"], r["labels"].split(";")) for r in rows] == want
    assert rows[0]["decided_by"] == "anna" and rows[0]["label_names"] == "Health"
    (tmp_path / "v.jsonl").write_text("old file is replaced")
    assert export_verified(st, tmp_path / "v.jsonl").rows == 2
    got = [json.loads(x) for x in (tmp_path / "v.jsonl").read_text("utf-8").splitlines()]
    assert [(r["doc_id"], r["text"], r["labels"]) for r in got] == want
    export_verified(st, tmp_path / "v.parquet")
    table = pq.read_table(tmp_path / "v.parquet").to_pylist()
    assert [(r["doc_id"], r["text"], r["labels"]) for r in table] == want
    manifest = json.loads((tmp_path / "v.parquet.manifest.json").read_text("utf-8"))
    assert manifest["rows"] == 2 and manifest["codebook_sha256"] == st.codebook.sha256
    with pytest.raises(ReplicoderError, match="unknown extension '.xlsx'"):
        export_verified(st, tmp_path / "v.xlsx")


def test_coder_agreement_alpha_and_disagreements(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    with st.store() as store:
        assert adjudication.coder_agreement(store, st.codebook).alpha is None
        for doc, a, b in [("d1", "3", "3"), ("d2", "18", "15"), ("d3", "3", "3"),
                          ("d4", "7", "7")]:
            session.decide(store, st.codebook, "anna", doc, [], [a], False, 1.0)
            session.decide(store, st.codebook, "ben", doc, [], [b], False, 1.0)
        report = adjudication.coder_agreement(store, st.codebook)
    # pooled values 3:4, 7:2, 15:1, 18:1; one disagreeing unit: 1 - 7 * 2 / (64 - 22)
    assert report.alpha == pytest.approx(2 / 3)
    assert report.distance == "nominal" and report.units == 4
    assert report.coders == ["anna", "ben"]
    assert [(d.doc_id, d.labels) for d in report.disagreements] == [
        ("d2", {"anna": {"18"}, "ben": {"15"}})
    ]
    with st.store() as store, pytest.raises(ReplicoderError, match="--distance 'cosine'"):
        adjudication.coder_agreement(store, st.codebook, "cosine")


def test_multi_label_codebook_keeps_several_labels(tmp_path: Path) -> None:
    book = tmp_path / "frames.yaml"
    book.write_text(
        "name: frames\nmulti_label: true\nlabels:\n"
        "  - {code: eco, name: Economy}\n  - {code: hea, name: Health}\n"
        "  - {code: mor, name: Morality}\n",
        encoding="utf-8",
    )
    st = make_study(tmp_path, str(book))
    with st.store() as store:
        propose(store, "d1", llm_a=["eco", "hea"], llm_b=["hea", "mor"])
        d = session.decide(store, st.codebook, "anna", "d1", ["mor"], [], False, 1.0)
        assert d.final == {"eco", "hea"}
        session.decide(store, st.codebook, "ben", "d1", ["mor", "eco"], [], False, 1.0)
        session.decide(store, st.codebook, "anna", "d2", [], [], False, 1.0)  # none applies
        report = adjudication.coder_agreement(store, st.codebook)
        assert report.distance == "masi" and report.units == 1
        adjudication.adjudicate(store, st.codebook, "carla", "d1", ["eco", "hea"])
        assert store.verified_labels() == {"d1": {"eco", "hea"}, "d2": frozenset()}
