"""Who may talk to the review app.

Bound to a loopback address, only requests whose Host header names a loopback host are
served (this stops DNS-rebinding pages). Bound to any other address, every request must
carry the token printed at start: as ``?token=`` once (then kept in an HttpOnly cookie) or
as the ``X-Replicoder-Token`` header. Writes must be JSON with the ``X-Replicoder`` header,
which a cross-site form cannot send.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

COOKIE = "replicoder_token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _host_name(header: str) -> str:
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


Next = Callable[[Request], Awaitable[Response]]


def guard(token: str | None) -> Callable[[Request, Next], Awaitable[Response]]:
    """An HTTP middleware enforcing the rules above; ``token`` None means loopback-only."""

    async def middleware(request: Request, call_next: Next) -> Response:
        if token is None:
            if not is_loopback(_host_name(request.headers.get("host", ""))):
                return PlainTextResponse("forbidden host", status_code=403)
        else:
            given = request.query_params.get("token")
            if given is not None and secrets.compare_digest(given, token):
                query = urlencode(
                    [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                )
                target = request.url.path + (f"?{query}" if query else "")
                resp = RedirectResponse(target, status_code=303)
                resp.set_cookie(COOKIE, token, httponly=True, samesite="strict")
                return resp
            sent = request.cookies.get(COOKIE) or request.headers.get("x-replicoder-token", "")
            if not secrets.compare_digest(sent, token):
                return PlainTextResponse(
                    "token required: open the URL printed by `replicoder review`",
                    status_code=401,
                )
        if request.method != "GET":
            if request.headers.get("x-replicoder") != "1" or not request.headers.get(
                "content-type", ""
            ).startswith("application/json"):
                return JSONResponse({"error": "writes must be JSON from the review page"},
                                    status_code=403)
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'"
        )
        return response

    return middleware
