"""annotate --batch against a fake provider on 127.0.0.1 implementing the files and
batches endpoints: one batch, partial failures retried smaller, a kill while polling
resumed without paying twice, batch and live prices side by side in the plan."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from test_annotate_support import bills_study, completion, serving
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.annotate.batch import pending, run_batches
from replicoder.annotate.config import AnnotatorConfig, add_annotator, select
from replicoder.annotate.jobs import Annotator
from replicoder.annotate.planning import plan
from replicoder.annotate.runner import annotate
from replicoder.cli import app
from replicoder.errors import ReplicoderError


class BatchProvider:
    """Files and batches as OpenAI serves them. While ``hold`` is set, batches stay in
    progress; ``fail`` holds custom ids whose first try fails."""

    def __init__(self, fail: int = 0) -> None:
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.hold = threading.Event()
        self.fail_first = fail
        self.failed: set[str] = set()
        self.billed: Counter[str] = Counter()
        self.lock = threading.Lock()

    def file(self, data: bytes) -> str:
        fid = f"file-{len(self.files)}"
        self.files[fid] = data
        return fid

    def batch(self, bid: str) -> dict[str, Any]:
        b = self.batches[bid]
        if b["status"] != "completed" and not self.hold.is_set():
            out, err = [], []
            lines = [json.loads(x) for x in self.files[b["input_file_id"]].splitlines()]
            for n, line in enumerate(lines):
                key = line["custom_id"]
                assert line["url"] == "/v1/chat/completions" and line["body"]["messages"]
                if n < self.fail_first and key not in self.failed:
                    self.failed.add(key)
                    err.append({"id": f"r{n}", "custom_id": key, "response": None,
                                "error": {"code": "server_error", "message": "try again"}})
                    continue
                self.billed[key] += 1
                out.append({"id": f"r{n}", "custom_id": key, "error": None,
                            "response": {"status_code": 200, "request_id": "x",
                                         "body": completion('{"labels": ["3"]}')}})
            b.update(status="completed",
                     output_file_id=self.file("\n".join(map(json.dumps, out)).encode()),
                     error_file_id=self.file("\n".join(map(json.dumps, err)).encode())
                     if err else None)
        elif b["status"] == "validating":
            b["status"] = "in_progress"
        return b


@contextmanager
def batch_server(p: BatchProvider) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def send(self, payload: Any, status: int = 200, raw: bytes | None = None) -> None:
            data = raw if raw is not None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/octet-stream" if raw is not None
                             else "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with p.lock:
                if self.path.endswith("/files"):
                    msg = BytesParser(policy=default).parsebytes(
                        b"Content-Type: " + self.headers["content-type"].encode()
                        + b"\r\n\r\n" + body)
                    data = next(part.get_payload(decode=True) for part in msg.iter_parts()
                                if part.get_param("name", header="content-disposition")
                                == "file")
                    fid = p.file(data)
                    self.send({"id": fid, "object": "file", "bytes": len(data),
                               "created_at": 0, "filename": "x.jsonl", "purpose": "batch",
                               "status": "processed"})
                elif self.path.endswith("/batches"):
                    req = json.loads(body)
                    bid = f"batch-{len(p.batches)}"
                    p.batches[bid] = {"id": bid, "object": "batch", "endpoint": req["endpoint"],
                                      "input_file_id": req["input_file_id"],
                                      "completion_window": "24h", "created_at": 0,
                                      "status": "validating"}
                    self.send(p.batches[bid])
                else:
                    self.send({"error": {"message": "no such route"}}, 404)

        def do_GET(self) -> None:  # noqa: N802
            with p.lock:
                parts = self.path.split("/")
                if "batches" in parts:
                    self.send(p.batch(parts[-1]))
                elif parts[-1] == "content":
                    self.send(None, raw=p.files[parts[-2]])
                else:
                    self.send({"error": {"message": "no such route"}}, 404)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url


def api(study: study_mod.Study, url: str) -> study_mod.Study:
    add_annotator(study, AnnotatorConfig(name="api", backend="openai", model="m",
                                         base_url=url, price_input_per_1k=1.0,
                                         price_output_per_1k=2.0), replace=True)
    return study_mod.open_study(study.root)


def test_one_batch_at_the_batch_price_failures_retried_smaller(tmp_path: Path) -> None:
    p = BatchProvider(fail=2)
    with batch_server(p) as url:
        st = api(bills_study(tmp_path, 5), url)
        (row,) = annotate(st, batch=True, poll_s=0.01).annotators
        assert (row.ok, row.sent, row.left) == (5, 5, 0)
        assert row.cost == pytest.approx(5 * (100 * 1.0 + 7 * 2.0) / 1000 * 0.5)
        first, second = p.batches.values()
        assert len(p.files[first["input_file_id"]].splitlines()) == 5
        assert len(p.files[second["input_file_id"]].splitlines()) == 2  # the failures
        assert set(p.billed.values()) == {1}
        with st.store() as store:
            assert pending(store, "api") == []
            props = store.proposals(annotator="api")
        assert all(pr.labels == {"3"} for pr in props)
        again = annotate(st, batch=True, poll_s=0.01)
        assert again.annotators[0].sent == 0 and len(p.batches) == 2


def test_a_kill_while_polling_resumes_the_same_batch(tmp_path: Path) -> None:
    p = BatchProvider()
    p.hold.set()
    with batch_server(p) as url:
        st = api(bills_study(tmp_path, 4), url)
        proc = subprocess.Popen([sys.executable, "-m", "replicoder.cli", "annotate", "--batch",
                                 "--poll-seconds", "0.05", "--study", str(st.root)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with p.lock:
                polled = any(b["status"] == "in_progress" for b in p.batches.values())
            if polled:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with sqlite3.connect(st.root / "study.db") as db:
            (bid,) = [r[0] for r in db.execute("SELECT batch_id FROM llm_batches")]
        assert bid == "batch-0" and p.billed == Counter()
        p.hold.clear()
        (row,) = annotate(study_mod.open_study(st.root), batch=True, poll_s=0.01).annotators
    assert (row.ok, row.sent) == (4, 4) and len(p.batches) == 1  # resumed, not sent again
    assert set(p.billed.values()) == {1} and len(p.billed) == 4


def test_plan_shows_batch_and_live_prices_and_errors(tmp_path: Path) -> None:
    st = api(bills_study(tmp_path, 2), "http://127.0.0.1:9/v1")
    (row,) = plan(st)
    assert row.batch_cost == pytest.approx(row.cost * 0.5) and row.cost > 0
    out = CliRunner().invoke(app, ["annotate", "--plan", "--study", str(st.root)],
                             env={"COLUMNS": "200"})
    assert out.exit_code == 0 and "batch cost" in out.output
    help_text = CliRunner().invoke(app, ["annotate", "--help"], env={"COLUMNS": "200"}).output
    assert "--batch" in help_text and "--poll-seconds" in help_text
    add_annotator(st, AnnotatorConfig(name="smol", answer="generate"))
    st = study_mod.open_study(st.root)
    (smol,) = select(st, ["smol"])
    with st.store() as store, pytest.raises(ReplicoderError, match="--batch needs the openai"):
        run_batches(Annotator(st, smol), store, [], "r", None, lambda a, b: None, 0.01)
