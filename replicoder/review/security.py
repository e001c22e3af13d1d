"""Who may talk to the review app.

Bound to a loopback address, only requests whose Host header names a loopback host are
served (this stops DNS-rebinding pages). Bound to any other address, every request must
carry the token printed at start: as ``?token=`` once (then kept in an HttpOnly cookie) or
as the ``X-Replicoder-Token`` header. Writes must be JSON with the ``X-Replicoder`` header,
which a cross-site form cannot send.

Coders: each coder has a personal link (``/c/NAME/?key=...``, printed at start). Opening it
sets a signed HttpOnly cookie naming that coder; every ``/c/NAME/`` page and
``/api/c/NAME/`` write must carry the cookie for NAME, so nobody decides as someone else by
editing the URL.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from replicoder.atomic import write_bytes
from replicoder.review.session import CODER_NAME

__all__ = ["CODER_COOKIE", "COOKIE", "LOOPBACK_NAMES", "SECRET_FILE", "CoderKeys", "guard",
           "is_loopback", "new_token"]

COOKIE = "replicoder_token"
CODER_COOKIE = "replicoder_coder"
_CODER_PATH = re.compile(r"^/(?:api/)?c/([^/]+)/")
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


SECRET_FILE = ".review-secret"  # in the study folder; leave it out of a shared package


class CoderKeys:
    """Per-coder keys: an HMAC of the coder's name under a secret (random, or the study's
    .review-secret file so that links survive a restart)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or secrets.token_bytes(32)

    @classmethod
    def for_study(cls, root: Path) -> CoderKeys:
        """The study's keys; the secret file is made (mode 0600) on first use."""
        path = root / SECRET_FILE
        if not path.is_file():
            write_bytes(path, secrets.token_hex(32).encode())
            path.chmod(0o600)
        return cls(path.read_bytes().strip())

    def key(self, coder: str) -> str:
        return hmac.new(self.secret, b"coder:" + coder.encode("utf-8"),
                        hashlib.sha256).hexdigest()[:32]

    def valid(self, coder: str, key: str) -> bool:
        return _same(self.key(coder), key)

    def cookie(self, coder: str) -> str:
        return f"{self.key(coder)}.{coder}"

    def signed_in(self, cookie: str) -> str | None:
        """The coder a cookie names, if its signature holds."""
        key, _, coder = cookie.partition(".")
        return coder if coder and self.valid(coder, key) else None


def _same(a: str, b: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (a 401, never a 500)."""
    return secrets.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def _host_name(header: str) -> str:
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


Next = Callable[[Request], Awaitable[Response]]


def guard(token: str | None, keys: CoderKeys | None = None
          ) -> Callable[[Request, Next], Awaitable[Response]]:
    """An HTTP middleware enforcing the rules above; ``token`` None means loopback-only;
    ``keys`` None: coder pages are open to anyone who reaches the app (tests of the page
    logic only)."""

    async def middleware(request: Request, call_next: Next) -> Response:
        if token is None:
            if not is_loopback(_host_name(request.headers.get("host", ""))):
                return PlainTextResponse("forbidden host", status_code=403)
        else:
            given = request.query_params.get("token")
            if given is not None and _same(given, token):
                query = urlencode(
                    [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                )
                target = request.url.path + (f"?{query}" if query else "")
                resp = RedirectResponse(target, status_code=303)
                resp.set_cookie(COOKIE, token, httponly=True, samesite="strict")
                return resp
            sent = request.cookies.get(COOKIE) or request.headers.get("x-replicoder-token", "")
            if not _same(sent, token):
                return PlainTextResponse(
                    "token required: open the URL printed by `replicoder review`",
                    status_code=401,
                )
        if keys is not None:
            refused = _coder_check(request, keys)
            if refused is not None:
                return refused
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


def _coder_check(request: Request, keys: CoderKeys) -> Response | None:
    """None when the request may go on as the coder its path names; else the answer."""
    match = _CODER_PATH.match(request.url.path)
    if match is None:
        return None
    coder = unquote(match.group(1))
    if not CODER_NAME.fullmatch(coder):
        return None  # the app answers 400 with what a coder name may hold
    given = request.query_params.get("key")
    if given is not None:
        if not keys.valid(coder, given):
            return PlainTextResponse(f"wrong key for coder {coder!r}: open the personal link "
                                     "printed by `replicoder review`", status_code=403)
        query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "key"])
        resp = RedirectResponse(request.url.path + (f"?{query}" if query else ""),
                                status_code=303)
        resp.set_cookie(CODER_COOKIE, keys.cookie(coder), httponly=True, samesite="strict")
        return resp
    who = keys.signed_in(request.cookies.get(CODER_COOKIE, ""))
    if who == coder:
        return None
    message = (f"this page belongs to coder {coder!r}; " +
               (f"you are signed in as {who!r}. " if who else "you are not signed in. ") +
               "Each coder opens their own link printed by `replicoder review`.")
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=403)
    return PlainTextResponse(message, status_code=403)
