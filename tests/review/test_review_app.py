"""The review app over real HTTP (uvicorn on a loopback port) and the review CLI."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.cli import app as cli_app
from replicoder.errors import ReplicoderError
from replicoder.review.app import create_app
from replicoder.review.security import CoderKeys

JSON = {"Content-Type": "application/json", "X-Replicoder": "1"}
KEYS = CoderKeys(b"test secret of the review app....")


def login(http: httpx.Client, coder: str) -> None:
    """Open the coder's personal link, as a coder does once (sets the signed cookie)."""
    resp = http.get(f"/c/{coder}/", params={"key": KEYS.key(coder)})
    assert resp.status_code == 303, resp.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_server(st: study_mod.Study, token: str | None) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(st, "anna", token, KEYS), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def url(study: study_mod.Study) -> Iterator[str]:
    yield from run_server(study, None)


def test_pages_escape_untrusted_text(url: str) -> None:
    with httpx.Client(base_url=url) as http:
        login(http, "anna")
        first = http.get("/c/anna/")
        assert first.status_code == 303 and first.headers["location"] == "/c/anna/doc?id=d1"
        page = http.get("/c/anna/doc", params={"id": "d3"})
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert" not in page.text
    state = re.search(r'<script id="state" type="application/json">(.*?)</script>', page.text)
    assert state is not None and "<" not in state.group(1)
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_api_saves_drafts_and_decisions(url: str, study: study_mod.Study) -> None:
    with httpx.Client(base_url=url, headers=JSON) as http:
        login(http, "anna")
        body = {"doc_id": "d1", "rejected": ["7"], "added": [], "unclear": False, "seconds": 2}
        assert http.post("/api/c/anna/draft", json=body).json() == {"ok": True}
        with study.store() as store:
            draft = store.draft("d1", "anna")
            assert draft is not None and draft.rejected == {"7"}
        bad = http.post("/api/c/anna/decide", json={**body, "rejected": []})
        assert bad.status_code == 400 and "exactly one label" in bad.json()["error"]
        ok = http.post("/api/c/anna/decide", json=body)
        assert ok.json() == {"next": "/c/anna/doc?id=d2"}
        unknown = http.post("/api/c/anna/decide", json={**body, "doc_id": "d2", "rejected": [],
                                                        "added": ["99x"]})
        assert unknown.status_code == 400 and "'99x'" in unknown.json()["error"]
        page = http.get("/c/bad%20name/")
        assert page.status_code == 400 and "coder name" in page.text
    with study.store() as store:
        assert store.verified_labels() == {"d1": {"3"}}


def test_writes_need_the_review_page_headers(url: str, study: study_mod.Study) -> None:
    body = json.dumps({"doc_id": "d2", "added": ["3"]})
    with httpx.Client(base_url=url) as http:
        login(http, "anna")
        plain = http.post("/api/c/anna/decide", content=body,
                          headers={"Content-Type": "text/plain"})
        no_header = http.post("/api/c/anna/decide", content=body,
                              headers={"Content-Type": "application/json"})
        rebinding = http.get("/", headers={"Host": "evil.example:80"})
    assert (plain.status_code, no_header.status_code, rebinding.status_code) == (403, 403, 403)
    with study.store() as store:
        assert store.decisions() == []


def test_token_required_off_loopback(study: study_mod.Study) -> None:
    for url in run_server(study, "s3cret"):
        with httpx.Client(base_url=url) as http:
            assert http.get("/").status_code == 401
            assert http.get("/", params={"token": "wrong"}).status_code == 401
            assert http.get("/", headers={"X-Replicoder-Token": "s3cret"}).status_code == 200
            first = http.get("/c/anna/", params={"token": "s3cret", "key": KEYS.key("anna")})
            assert first.status_code == 303
            assert first.headers["location"] == f"/c/anna/?key={KEYS.key('anna')}"
            assert http.get(first.headers["location"]).status_code == 303
            assert http.get("/c/anna/doc", params={"id": "d1"}).status_code == 200  # cookie


def test_cli_serve_prints_token_url_for_other_hosts(study: study_mod.Study) -> None:
    port = free_port()
    exe = Path(sys.executable).with_name("replicoder")
    proc = subprocess.Popen(
        [str(exe), "review", "--coder", "anna", "--host", "0.0.0.0", "--port", str(port),
         "--study", str(study.root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+/c/anna/)\?key=\S+&token=(\S+)", line)
        assert match, line
        with httpx.Client() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    denied = http.get(match.group(1))
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
            assert denied.status_code == 401
            page = http.get(match.group(0).split(": ")[-1], follow_redirects=True)
            assert page.status_code == 200 and "Medicare" in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    with study.store() as store:
        run = store.list_runs("review")[0]["manifest"]
    assert run["token_required"] and run["coder"] == "anna"
    assert match.group(2) not in json.dumps(run)  # the token is never stored


def test_cli_serve_errors(study: study_mod.Study, tmp_path: Path) -> None:
    runner = CliRunner()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = runner.invoke(cli_app, ["review", "--coder", "anna", "--port", str(port),
                                      "--study", str(study.root)])
    assert isinstance(res.exception, ReplicoderError) and "choose another --port" in str(
        res.exception)
    res = runner.invoke(cli_app, ["review", "--coder", "x y", "--study", str(study.root)])
    assert isinstance(res.exception, ReplicoderError) and "coder name" in str(res.exception)
    res = runner.invoke(cli_app, ["review", "--study", str(tmp_path / "none")])
    assert isinstance(res.exception, ReplicoderError) and "not a replicoder study" in str(
        res.exception)


def test_cli_assign_agreement_adjudicate_export(study: study_mod.Study, tmp_path: Path) -> None:
    runner = CliRunner()
    s = ["--study", str(study.root)]

    def ok(*args: str) -> str:
        res = runner.invoke(cli_app, [*args, *s])
        assert res.exit_code == 0, (res.output, res.exception)
        return res.output

    assert "Assigned 4 documents (4 to two" in ok("review", "assign", "--coders", "anna,ben",
                                                   "--overlap", "1")
    from replicoder.review import session

    chosen = {"d2": ("18", "18"), "d3": ("3", "3"), "d4": ("3", "12")}
    with study.store() as store:
        for name in ("anna", "ben"):
            session.decide(store, study.codebook, name, "d1", ["7"], [], False, 1.0)
        for doc, (a, b) in chosen.items():
            session.decide(store, study.codebook, "anna", doc, [], [a], False, 1.0)
            session.decide(store, study.codebook, "ben", doc, [], [b], False, 1.0)
    out = ok("review", "agreement")
    # pooled values 3:5, 18:2, 12:1, one disagreeing unit: 1 - 7 * 2 / (64 - 30) = 0.588
    assert "Krippendorff's alpha (nominal) = 0.588" in out and "d4" in out
    assert "1 documents wait" in ok("review", "adjudicate")
    assert "Adjudicated d4: 12 (carla)" in ok("review", "adjudicate", "--doc", "d4",
                                               "--labels", "12", "--coder", "carla")
    out = ok("export", "verified", "--out", str(tmp_path / "v.jsonl"))
    assert "Wrote 4 verified documents" in out
    rows = [json.loads(x) for x in (tmp_path / "v.jsonl").read_text("utf-8").splitlines()]
    assert [(r["doc_id"], r["labels"], r["decided_by"]) for r in rows] == [
        ("d1", ["3"], "anna+ben"), ("d2", ["18"], "anna+ben"), ("d3", ["3"], "anna+ben"),
        ("d4", ["12"], "carla")]
    res = runner.invoke(cli_app, ["review", "adjudicate", "--doc", "d4", *s])
    assert isinstance(res.exception, ReplicoderError) and "--labels" in str(res.exception)
    res = runner.invoke(cli_app, ["export", "verified", "--out", str(tmp_path / "v.txt"), *s])
    assert isinstance(res.exception, ReplicoderError) and ".txt" in str(res.exception)

