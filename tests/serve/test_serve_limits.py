"""`serve` refuses oversized requests with 413 (issue 25, item 20): a body over
--max-request-bytes before it is read whole, a prompt over --max-prompt-chars before it is
tokenised; the server stays quick for the next request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from serve_process import ServeProcess

BODY = 200_000
CHARS = 5_000


@pytest.fixture(scope="module")
def server() -> Iterator[ServeProcess]:
    srv = ServeProcess(["--max-request-bytes", str(BODY), "--max-prompt-chars", str(CHARS)])
    yield srv
    srv.stop()


def _body(content: str, max_tokens: int = 4) -> dict[str, object]:
    return {"model": "embedded", "messages": [{"role": "user", "content": content}],
            "temperature": 0, "max_tokens": max_tokens}


def _error(resp: httpx.Response) -> dict[str, str]:
    assert resp.headers["content-type"].startswith("application/json")
    error: dict[str, str] = resp.json()["error"]
    return error


def test_a_20_mb_body_is_413_at_once(server: ServeProcess) -> None:
    started = time.monotonic()
    resp = httpx.post(server.api + "/chat/completions", json=_body("x" * 20_000_000),
                      timeout=60)
    assert resp.status_code == 413, resp.text
    error = _error(resp)
    assert error["code"] == "request_too_large" and "200,000 bytes" in error["message"]
    assert "--max-request-bytes" in error["message"]
    assert time.monotonic() - started < 10


def test_a_chunked_body_without_length_is_cut_off(server: ServeProcess) -> None:
    def chunks() -> Iterator[bytes]:
        data = json.dumps(_body("y" * 1_000_000)).encode()
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    resp = httpx.post(server.api + "/chat/completions", content=chunks(),
                      headers={"content-type": "application/json"}, timeout=60)
    assert resp.status_code == 413 and _error(resp)["code"] == "request_too_large"


def test_a_long_prompt_is_413_before_tokenising(server: ServeProcess) -> None:
    resp = httpx.post(server.api + "/chat/completions", json=_body("word " * 2_000), timeout=60)
    assert resp.status_code == 413, resp.text
    error = _error(resp)
    assert error["code"] == "prompt_too_long" and error["param"] == "messages"
    assert "10,000 characters" in error["message"] and "5,000" in error["message"]


def test_requests_within_the_limits_are_answered(server: ServeProcess) -> None:
    resp = httpx.post(server.api + "/chat/completions", json=_body("Say hi"), timeout=120)
    assert resp.status_code == 200, resp.text
    assert resp.json()["usage"]["completion_tokens"] >= 1
    assert httpx.get(server.url + "/health").status_code == 200


def test_the_body_limit_keeps_disconnect_detection() -> None:
    """The middleware reads the body ahead; the app must still see the client leave (so a
    disconnect still cancels a generation)."""
    import asyncio
    from typing import Any

    from starlette.requests import Request

    from replicoder.serve.limits import BodyLimit

    async def run() -> list[object]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await queue.put({"type": "http.request", "body": b'{"a":', "more_body": True})
        await queue.put({"type": "http.request", "body": b"1}", "more_body": False})
        seen: list[object] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            request = Request(scope, receive)
            seen.append(await request.body())
            seen.append(await request.is_disconnected())
            await queue.put({"type": "http.disconnect"})
            seen.append(await request.is_disconnected())

        async def send(message: Any) -> None:
            seen.append(message)

        scope = {"type": "http", "method": "POST", "headers": []}
        await BodyLimit(app, 100)(scope, queue.get, send)
        return seen

    assert asyncio.run(run()) == [b'{"a":1}', False, True]
