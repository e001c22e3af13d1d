"""Request-size limits for ``serve``: a body larger than ``max_request_bytes`` is answered
413 before it is parsed (and never held whole), a prompt longer than ``max_prompt_chars``
characters is answered 413 before it is tokenised."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from replicoder.serve.schema import ApiError, ChatRequest, error_body

__all__ = ["MAX_PROMPT_CHARS", "MAX_REQUEST_BYTES", "BodyLimit", "RequestLimits",
           "check_prompt"]

MAX_REQUEST_BYTES = 4_000_000
MAX_PROMPT_CHARS = 200_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class RequestLimits:
    """The largest request body (bytes) and prompt (characters, all messages) served."""

    max_request_bytes: int = MAX_REQUEST_BYTES
    max_prompt_chars: int = MAX_PROMPT_CHARS

    def __post_init__(self) -> None:
        if self.max_request_bytes < 1 or self.max_prompt_chars < 1:
            raise ValueError("request limits must be at least 1")


def check_prompt(req: ChatRequest, limit: int) -> None:
    """413 when the messages hold more than ``limit`` characters (counted before any
    tokenising)."""
    chars = sum(len(m.as_template_dict()["content"]) for m in req.messages)
    if chars > limit:
        raise ApiError(413, f"The messages hold {chars:,} characters; this server accepts at "
                       f"most {limit:,} (serve --max-prompt-chars).",
                       code="prompt_too_long", param="messages")


class BodyLimit:
    """ASGI middleware: reads the body up to ``limit`` bytes, answers 413 beyond it (at once
    when Content-Length says so), then hands the body on."""

    def __init__(self, app: App, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send, int(declared))
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send, None)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, size: int | None) -> None:
        got = f" ({size:,} bytes)" if size is not None else ""
        payload = json.dumps(error_body(
            f"The request body{got} is larger than this server accepts ({self.limit:,} "
            "bytes; serve --max-request-bytes).", code="request_too_large")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
