"""The OpenAI-compatible backend: error paths against a real local HTTP server that sends
real 429/500/401/404 responses, and the whole run against `replicoder serve`."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_process import ServeProcess
from test_annotate_support import (
    Scripted,
    annotate_until,
    bills_study,
    completion,
    error,
    scripted_server,
)

from replicoder import importer
from replicoder import study as study_mod
from replicoder.annotate.config import AnnotatorConfig, add_annotator
from replicoder.annotate.runner import annotate, annotate_texts
from replicoder.errors import ReplicoderError

KEY_ENV = "REPLICODER_TEST_ANNOTATE_KEY"
KEY = "sk-test-0123456789abcdef"  # a test value that must never reach a file


@pytest.fixture
def study(tmp_path: Path) -> study_mod.Study:
    return bills_study(tmp_path, 4)


def http(study: study_mod.Study, url: str, **kw: object) -> study_mod.Study:
    settings: dict[str, object] = {"name": "api", "backend": "openai", "model": "m",
                                   "base_url": url, "api_key_env": KEY_ENV,
                                   "max_retries": 3, "retry_backoff_s": 0.01, **kw}
    add_annotator(study, AnnotatorConfig(**settings), replace=True)  # type: ignore[arg-type]
    return study_mod.open_study(study.root)


def files_hold(root: Path, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_retries_429_500_and_timeouts_then_records_tokens_and_cost(
    study: study_mod.Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    script = Scripted([error(429, "slow down", {"retry-after": "0"}), error(500, "oops"),
                       (200, {}, {"x-sleep": "1.5"}), error(503, "busy")])
    with scripted_server(script) as url:
        st = http(study, url, max_concurrency=1, timeout_s=0.5, max_retries=4,
                  price_input_per_1k=1.0, price_output_per_1k=2.0)
        summary = annotate(st)
    (row,) = summary.annotators
    assert row.sent == 4 and row.ok == 4 and row.retries == 4 and row.unparsed == 0
    assert len(script.requests) == 8
    assert all(r["_auth"] == f"Bearer {KEY}" for r in script.requests)
    assert script.requests[-1]["model"] == "m" and script.requests[-1]["max_tokens"] == 64
    assert (row.input_tokens, row.output_tokens) == (400, 28)
    assert row.cost == pytest.approx(4 * (0.1 + 0.014))
    with st.store() as store:
        assert store.cache_totals()["api"]["cost"] == pytest.approx(row.cost)
        props = store.proposals(annotator="api")
    assert {p.status for p in props} == {"ok"} and all(p.labels == {"3"} for p in props)
    assert props[0].provenance["cost"] == pytest.approx(0.114)
    assert files_hold(st.root, KEY) == []  # not in study.db, manifest or replicoder.toml
    assert KEY_ENV in summary.manifest_path.read_text("utf-8")


def test_giving_up_keeps_finished_answers_and_names_the_annotator(
    study: study_mod.Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    script = Scripted([])
    with scripted_server(script) as url:
        st = http(study, url, max_concurrency=1, max_retries=2)
        annotate(st, limit=2)
        script.script = [error(500, "down")] * 3
        with pytest.raises(ReplicoderError, match=r"annotator 'api'.*gave up after 3 tries.*"
                                                   r"HTTP 500.*run the command again"):
            annotate(st)
    with st.store() as store:
        assert len(store.proposals(annotator="api")) == 2
        (run,) = [r for r in store.list_runs("annotate") if r["manifest"]["status"] == "failed"]
    assert run["manifest"]["summary"][0]["cached"] == 2


@pytest.mark.parametrize("status, message", [
    (401, rf"annotator 'api'.*refused the API key from {KEY_ENV} \(HTTP 401\)"),
    (403, r"annotator 'api'.*refused the API key"),
    (404, r"annotator 'api' \(.*model 'm'\): not found \(HTTP 404"),
    (400, r"annotator 'api'.*HTTP 400.*bad temperature"),
])
def test_bad_key_unknown_model_and_bad_request_fail_at_once(
    study: study_mod.Study, monkeypatch: pytest.MonkeyPatch, status: int, message: str
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    script = Scripted([error(status, "bad temperature")] * 10)
    with scripted_server(script) as url:
        st = http(study, url, max_concurrency=1)
        with pytest.raises(ReplicoderError, match=message) as info:
            annotate(st)
    assert KEY not in str(info.value)
    assert len(script.requests) == 1  # no retry of a request that cannot succeed


def test_missing_key_variable_fails_before_sending(
    study: study_mod.Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    script = Scripted([])
    with scripted_server(script) as url:
        st = http(study, url)
        with pytest.raises(ReplicoderError, match=rf"annotator 'api'.*{KEY_ENV} is unset or empty"):
            annotate(st)
    assert script.requests == []


def test_rate_limit_spaces_requests_and_unparsed_answers_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    st = bills_study(tmp_path, 6)
    script = Scripted([], answer="I am not sure what this is about.")
    with scripted_server(script) as url:
        st = http(st, url, max_concurrency=4, requests_per_minute=600)  # one per 0.1 s
        start = time.monotonic()
        summary = annotate(st)
        elapsed = time.monotonic() - start
    assert elapsed >= 0.5
    (row,) = summary.annotators
    assert row.unparsed == 6 and row.ok == 0
    with st.store() as store:
        props = store.proposals(annotator="api")
    assert [p.status for p in props] == ["unparsed"] * 6
    assert props[0].raw == "I am not sure what this is about."
    assert "no codebook label" in props[0].provenance["parse"]


@pytest.fixture(scope="module")
def serve() -> Iterator[ServeProcess]:
    proc = ServeProcess(env={"OMP_NUM_THREADS": "1"})
    yield proc
    proc.stop()


def test_annotate_through_replicoder_serve_then_rerun_sends_nothing(
    tmp_path: Path, serve: ServeProcess
) -> None:
    st = bills_study(tmp_path, 2)
    st = http(st, serve.api, model="embedded", api_key_env="", template="short", max_tokens=8)
    first = annotate(st)
    with st.store() as store:
        before = store.proposals(annotator="api")
    assert first.annotators[0].sent == 2 and len(before) == 2
    assert first.annotators[0].input_tokens > 2 * 100  # usage reported by the server
    prov = before[0].provenance
    assert prov["model"] == "embedded" and prov["backend"] == "openai"
    assert prov["params"] == {"temperature": 0.0, "seed": 0, "max_tokens": 8,
                                  "structured": True}
    assert len(prov["prompt_sha256"]) == len(prov["template_sha256"]) == 64
    second = annotate(st)
    assert (second.annotators[0].sent, second.annotators[0].cached) == (0, 2)
    with st.store() as store:
        assert store.proposals(annotator="api") == before
        docs = [(d.doc_id, d.text) for d in store.documents([p.doc_id for p in before])]
    again = annotate_texts(st, "api", docs)  # served from the cache, same answers
    assert [(p.labels, p.raw) for p in again] == [(p.labels, p.raw) for p in before]


def test_killed_run_resumes_without_repeating_or_losing_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    n = 10
    st = bills_study(tmp_path, n)
    script = Scripted([(200, completion('{"labels": ["7"]}'), {"x-sleep": "0.2"})] * 100)
    with scripted_server(script) as url:
        st = http(st, url, max_concurrency=2)
        proc = annotate_until(st, 3)
        db = st.root / "study.db"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with sqlite3.connect(db) as conn:
            cached = dict(conn.execute("SELECT key, run_id || created_at FROM llm_cache"))
            kept = conn.execute("SELECT COUNT(*) FROM proposals").fetchone()[0]
        assert 3 <= len(cached) < n, "the run should have been killed midway"
        assert kept == len(cached)  # each answer was committed together with its proposal
        sent_before = len(script.requests)
        summary = annotate(st)
    (row,) = summary.annotators
    assert (row.cached, row.sent, row.documents, row.ok) == (len(cached), n - len(cached), n, n)
    assert len(script.requests) - sent_before == n - len(cached)
    with sqlite3.connect(db) as conn:
        after = dict(conn.execute("SELECT key, run_id || created_at FROM llm_cache"))
        assert conn.execute("SELECT COUNT(*) FROM proposals").fetchone()[0] == n
    assert all(after[k] == v for k, v in cached.items())  # no answered request sent again
    asked = Counter(json.dumps(r["messages"]) for r in script.requests[sent_before:])
    assert max(asked.values()) == 1
    runs = json.loads(summary.manifest_path.read_text("utf-8"))
    assert runs["status"] == "finished" and runs["documents"]["count"] == n


def test_identical_texts_share_one_request_and_annotate_texts_uses_the_cache(
    cap_study: study_mod.Study, tmp_path: Path
) -> None:
    csv_path = tmp_path / "dup.csv"
    csv_path.write_text("id,text\na,Farm subsidies.\nb,Farm subsidies.\nc,Nuclear power.\n",
                        "utf-8")
    importer.import_file(cap_study, csv_path, text="text", id="id")
    script = Scripted([], answer='Topic: {"labels": ["Agriculture and fisheries"]}')
    with scripted_server(script) as url:
        st = http(cap_study, url, api_key_env="")
        (row,) = annotate(st).annotators
        assert (row.sent, row.documents, len(script.requests)) == (2, 3, 2)
        assert script.requests[0]["_auth"] == "Bearer none"  # no key configured
        props = annotate_texts(st, "api", [("new-1", "Farm subsidies."), ("new-2", "Dams.")])
    assert len(script.requests) == 3  # only the unseen text was sent
    assert [p.doc_id for p in props] == ["new-1", "new-2"]
    assert all(p.labels == {"4"} and p.status == "ok" for p in props)
    with st.store() as store:
        assert {p.doc_id for p in store.proposals(annotator="api")} == {"a", "b", "c"}
