"""Issue 12: the review app under a hostile coder: identity, adjudication, bad bodies,
spreadsheet formulas, and queries that stay indexed at 300k documents."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest
from test_review_app import JSON, KEYS, login, run_server
from test_review_store import propose

from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.review import adjudication, session
from replicoder.review.export import export_verified


def test_a_coder_cannot_act_as_another(study: study_mod.Study) -> None:
    body = {"doc_id": "d1", "rejected": ["7"], "added": [], "unclear": False, "seconds": 1}
    for url in run_server(study, None):
        with httpx.Client(base_url=url, headers=JSON) as http:
            assert http.get("/c/anna/").status_code == 403  # not signed in
            assert http.get("/c/anna/", params={"key": KEYS.key("ben")}).status_code == 403
            login(http, "anna")
            assert http.get("/c/anna/").status_code == 303
            as_ben = http.post("/api/c/ben/decide", json=body)
            assert as_ben.status_code == 403 and "signed in as 'anna'" in as_ben.json()["error"]
            assert http.get("/c/ben/adjudicate").status_code == 403
            assert http.post("/api/c/anna/decide", json=body).status_code == 200
            lookalike = http.get("/c/%D0%B0nna/")  # Cyrillic a
            assert lookalike.status_code == 400 and "ASCII" in lookalike.text
    with study.store() as store:
        assert [(d.doc_id, d.coder) for d in store.decisions()] == [("d1", "anna")]


def test_non_ascii_names_are_refused() -> None:
    with pytest.raises(ReplicoderError, match="ASCII"):
        session.check_name("аnna")


def test_only_real_disagreements_can_be_adjudicated(study: study_mod.Study) -> None:
    book = study.codebook
    with study.store() as store:
        with pytest.raises(ReplicoderError, match="nobody has decided it"):
            adjudication.adjudicate(store, book, "carla", "d1", ["3"])
        session.decide(store, book, "anna", "d1", ["7"], [], False, 1.0)
        session.decide(store, book, "ben", "d1", ["7"], [], False, 1.0)
        with pytest.raises(ReplicoderError, match="agree and nobody flagged it unclear"):
            adjudication.adjudicate(store, book, "carla", "d1", ["7"])
        session.decide(store, book, "ben", "d1", ["3"], [], False, 1.0)
        assert adjudication.adjudicate(store, book, "carla", "d1", ["3"]).labels == {"3"}


def test_bad_bodies_and_tokens_are_4xx(study: study_mod.Study) -> None:
    for url in run_server(study, "s3cret"):
        with httpx.Client(base_url=url, headers=JSON) as http:
            assert http.get("/", params={"token": "ünïcode"}).status_code == 401
            http.get("/c/anna/", params={"token": "s3cret", "key": KEYS.key("anna")},
                     follow_redirects=True)
            draft = http.post("/api/c/anna/draft", json={"doc_id": "nope"})
            assert draft.status_code == 400 and "'nope'" in draft.json()["error"]
            inf = http.post("/api/c/anna/decide", content=b'{"doc_id": "d1", "seconds": '
                            b'Infinity}')
            assert inf.status_code == 400 and "finite" in inf.json()["error"]
            neg = http.post("/api/c/anna/draft", json={"doc_id": "d1", "seconds": -5})
            assert neg.status_code == 400
    with study.store() as store:
        assert store.decisions() == [] and store.draft("d1", "anna") is None


def test_banner_names_the_study_opened_as_dot(study: study_mod.Study,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(study.root)
    here = study_mod.open_study(Path("."))
    for url in run_server(here, None):
        with httpx.Client(base_url=url) as http:
            login(http, "anna")
            page = http.get("/c/anna/doc", params={"id": "d1"})
    assert "study &#39;&#39;" not in page.text and "study ''" not in page.text
    assert study.root.name in page.text


def test_csv_export_defuses_formulas(study: study_mod.Study, tmp_path: Path) -> None:
    with study.store() as store:
        store.add_documents([("=cmd", "=1+1+HYPERLINK(\"x\")", "0" * 64, {}, None)])
        propose(store, "=cmd", llm_a=["3"])
        session.decide(store, study.codebook, "anna", "=cmd", [], [], False, 1.0)
    out = tmp_path / "v.csv"
    export_verified(study, out)
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
    (row,) = [r for r in rows if r["doc_id"].endswith("=cmd")]
    assert row["doc_id"] == "'=cmd" and row["text"].startswith("'=1+1")


def test_review_queries_use_indexes(study: study_mod.Study) -> None:
    """What keeps a page at milliseconds with 300k documents (bench/bench_review_scale.py):
    no query behind a page scans a table or sorts the whole queue."""
    with study.store() as store:
        seq = store.queue_seq("anna", "d1")
        assert seq is not None
        traced: list[str] = []
        store.conn.set_trace_callback(traced.append)
        store.first_undecided("anna")
        store.queue_around("anna", seq)
        store.decided_seconds("anna")
        store.conn.set_trace_callback(None)
        for sql in traced:
            plan = " | ".join(str(r[3]) for r in store.conn.execute(
                "EXPLAIN QUERY PLAN " + sql))
            assert "TEMP B-TREE" not in plan, (sql, plan)
            assert "SCAN decisions" not in plan, (sql, plan)


def test_review_link_signs_in_only_that_coder(study: study_mod.Study) -> None:
    from typer.testing import CliRunner

    from replicoder.cli import app as cli_app
    from replicoder.review.app import create_app
    from replicoder.review.security import CoderKeys

    res = CliRunner().invoke(cli_app, ["review", "link", "--coder", "ben", "--study",
                                       str(study.root)])
    assert res.exit_code == 0, res.output
    link = res.output.strip()
    assert link.startswith("http://127.0.0.1:8765/c/ben/?key=")
    assert (study.root / ".review-secret").stat().st_mode & 0o077 == 0
    keys = CoderKeys.for_study(study.root)
    assert link.endswith(keys.key("ben")) and keys.key("ben") != keys.key("anna")
    assert create_app(study, "anna", None, keys) is not None
