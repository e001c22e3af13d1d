"""Headless Debian Chromium driven by Playwright, and the real `replicoder review` server."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from paths import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (git-ignored), to look at after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("chromium is not installed: run `bash scripts/browser.sh`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Callable[[Path, str], str]]:
    """Start `replicoder review` on a free loopback port; returns the base URL."""
    procs: list[subprocess.Popen[str]] = []

    def start(study: Path, coder: str) -> str:
        port = _free_port()
        exe = Path(sys.executable).with_name("replicoder")
        proc = subprocess.Popen(
            [str(exe), "review", "--coder", coder, "--port", str(port), "--study", str(study)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        assert match, line
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(match.group(1) + "/")
                return match.group(1)
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "review server did not start"
                time.sleep(0.1)

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
