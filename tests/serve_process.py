"""`replicoder serve` as a subprocess on a free loopback port, for the tests that need a
real OpenAI-compatible server (no tests here)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time

import httpx


class ServeProcess:
    """Starts ``replicoder serve --port P *args`` and waits for /health; ``url`` has no /v1."""

    def __init__(self, args: tuple[str, ...] | list[str] = (),
                 env: dict[str, str] | None = None) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = self.url + "/v1"
        self.log = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe blocks serve
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "replicoder.cli", "serve", "--port", str(self.port), *args],
            env={**os.environ, **(env or {})}, stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                out = self.log.read().decode(errors="replace")[-3000:]
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{out}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("serve did not start within 180 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
