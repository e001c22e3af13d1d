"""Structured outputs: requests carry a JSON schema of the codebook's codes; a server that
refuses it gets the plain prompt, once noted. Against fake providers on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from graded_study import graded_study
from test_annotate_support import bills_study, completion, serving

from replicoder import study as study_mod
from replicoder.annotate.config import AnnotatorConfig, add_annotator
from replicoder.annotate.runner import annotate
from replicoder.annotate.structured import refuses_schema, schema
from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import load


class Provider:
    """Answers within the request's schema (``refuse``: 400 for any schema; ``broken``:
    400 for every request). Without a schema it answers prose no parser reads."""

    def __init__(self, refuse: bool = False, broken: bool = False) -> None:
        self.refuse, self.broken = refuse, broken
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def reply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(body)
        fmt = body.get("response_format")
        if self.broken:
            return 400, {"error": {"message": "max_tokens is too large"}}
        if fmt is None:
            return 200, completion("Hard to say; it is about several things.")
        if self.refuse:
            return 400, {"error": {"message": "response_format json_schema is not supported"}}
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
        items = fmt["json_schema"]["schema"]["properties"]["labels"]["items"]
        pick = len(body["messages"][-1]["content"])  # any allowed value
        if items["type"] == "object":
            codes = items["properties"]["label"]["enum"]
            levels = items["properties"]["intensity"]["enum"]
            answer: Any = [{"label": codes[pick % len(codes)],
                            "intensity": levels[pick % len(levels)]}]
        else:
            answer = [items["enum"][pick % len(items["enum"])]]
        return 200, completion(json.dumps({"labels": answer}))


@contextmanager
def provider(p: Provider) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            status, payload = p.reply(body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url


def api(study: study_mod.Study, url: str, **kw: Any) -> study_mod.Study:
    add_annotator(study, AnnotatorConfig(name="api", backend="openai", model="m",
                                         base_url=url, max_retries=0, **kw), replace=True)
    return study_mod.open_study(study.root)


def test_requests_carry_the_codebook_as_an_enum(tmp_path: Path) -> None:
    p = Provider()
    with provider(p) as url:
        st = api(bills_study(tmp_path, 4), url)
        (row,) = annotate(st).annotators
    assert (row.ok, row.unparsed) == (4, 0)
    for body in p.requests:
        sch = body["response_format"]["json_schema"]["schema"]
        assert sch["properties"]["labels"]["items"]["enum"] == st.codebook.codes
    with st.store() as store:
        assert all(pr.provenance["params"]["structured"] for pr in store.proposals())


def test_graded_schema_has_code_and_intensity(tmp_path: Path) -> None:
    p = Provider()
    with provider(p) as url:
        st = api(graded_study(tmp_path / "study", n=3), url)
        (row,) = annotate(st, limit=3).annotators
    assert (row.ok, row.unparsed) == (3, 0)
    items = schema(st.codebook)["properties"]["labels"]["items"]
    assert items["properties"]["intensity"]["enum"] == ["low", "medium", "high"]
    with st.store() as store:
        assert all(v in st.codebook.values for pr in store.proposals() for v in pr.labels)


def test_a_server_that_refuses_gets_the_plain_prompt_once_noted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = Provider(refuse=True)
    with provider(p) as url:
        st = api(bills_study(tmp_path, 3), url, max_concurrency=1)
        (row,) = annotate(st).annotators
    assert row.sent == 3 and len(p.requests) == 4  # one refusal, then plain prompts
    assert "response_format" in p.requests[0]
    assert all("response_format" not in r for r in p.requests[1:])
    err = capsys.readouterr().err
    assert err.count("does not take a JSON schema") == 1


def test_other_errors_and_opting_out(tmp_path: Path) -> None:
    with provider(Provider(broken=True)) as url:
        st = api(bills_study(tmp_path, 1), url)
        with pytest.raises(ReplicoderError, match="HTTP 400.*max_tokens is too large"):
            annotate(st)
    p = Provider()
    with provider(p) as url:
        annotate(api(st, url, structured=False))
    assert p.requests and all("response_format" not in r for r in p.requests)
    assert refuses_schema(400, "Unknown field response_format")
    assert not refuses_schema(400, "max_tokens too large")
    assert schema(load("cap"))["required"] == ["labels"]
