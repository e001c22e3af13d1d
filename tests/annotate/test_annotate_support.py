"""Helpers for the annotate tests (no tests here): small real studies and a real HTTP
server that answers with scripted statuses, for the error paths of the HTTP backend."""

from __future__ import annotations

import csv
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from paths import BILLS

from replicoder import importer
from replicoder import study as study_mod


def bills_study(root: Path, n: int, start: int = 0) -> study_mod.Study:
    """A CAP study holding ``n`` real bill titles (distinct texts) with gold labels."""
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    with gzip.open(BILLS, "rt", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if i < start or row["major_topic"] == "99" or row["text"] in seen:
                continue
            seen.add(row["text"])
            rows.append(row)
            if len(rows) == n:
                break
    path = root / "bills.csv"
    root.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    study = study_mod.init(root / "study", "cap")
    importer.import_file(study, path, text="text", id="id", labels="major_topic")
    return study_mod.open_study(root / "study")


def completion(content: str) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107}}


class Scripted:
    """Replies, in order, with the (status, body, headers) given; then with ``answer``."""

    def __init__(self, script: list[tuple[int, dict[str, Any], dict[str, str]]],
                 answer: str = '{"labels": ["3"]}') -> None:
        self.script = list(script)
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def reply(self, body: dict[str, Any], auth: str) -> tuple[int, dict[str, Any],
                                                              dict[str, str]]:
        with self.lock:
            self.requests.append({**body, "_auth": auth})
            if self.script:
                return self.script.pop(0)
        return 200, completion(self.answer), {}


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server for ``handler`` on a free loopback port; yields its /v1 base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def scripted_server(script: Scripted) -> Iterator[str]:
    """A real HTTP server on loopback; yields its base URL (ending in /v1)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            status, payload, headers = script.reply(body, self.headers.get("authorization", ""))
            headers = dict(headers)
            time.sleep(float(headers.pop("x-sleep", "0")))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler) as url:
        yield url


def error(status: int, message: str, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {"error": {"message": message, "type": "error", "code": None}}, \
        headers or {}


def annotate_until(study: study_mod.Study, proposals: int, stderr: int = subprocess.DEVNULL,
                   stdout: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    """Start `replicoder annotate` on ``study`` in a subprocess and return it once the study
    holds ``proposals`` proposals (or 60 s passed, or the process ended)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "replicoder.cli", "annotate", "--study", str(study.root)],
        stdout=stdout, stderr=stderr, text=True, env=os.environ.copy(),
    )
    deadline = time.monotonic() + 60
    done = 0
    while done < proposals and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
        with sqlite3.connect(study.root / "study.db") as conn:
            done = conn.execute("SELECT COUNT(*) FROM proposals").fetchone()[0]
    return proc
