"""Run the review app with uvicorn: loopback by default, a token on any other address."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from urllib.parse import quote

from replicoder.errors import ReplicoderError
from replicoder.review.security import CoderKeys, is_loopback, new_token
from replicoder.run import Run
from replicoder.study import Study

__all__ = ["check_port", "coder_link", "default_coder", "serve"]


def default_coder() -> str:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return "coder"
    clean = "".join(ch for ch in name if ch.isascii() and (ch.isalnum() or ch in "-_"))[:64]
    return clean or "coder"


def check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise ReplicoderError(f"--port {port}: give a port between 1 and 65535, e.g. 8765")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ReplicoderError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port"
            ) from exc


def coder_link(keys: CoderKeys, coder: str, base: str, token: str | None = None) -> str:
    """A coder's personal link: opening it signs that coder in (keep it private)."""
    url = f"{base}/c/{quote(coder, safe='')}/?key={keys.key(coder)}"
    return url + (f"&token={token}" if token else "")


def serve(study: Study, coder: str, host: str = "127.0.0.1", port: int = 8765,
          announce: Callable[[str], None] = print) -> None:
    """Serve until interrupted; ``announce`` gets the URL to open (with the token if any),
    then one line per other assigned coder with that coder's personal link."""
    import uvicorn

    from replicoder.review.app import create_app
    from replicoder.review.session import check_coder

    with study.store() as store:
        check_coder(store, coder)
        others = [c for c in store.assigned_coders() if c != coder]
    check_port(host, port)
    token = None if is_loopback(host) else new_token()
    Run.start(study, "review").write({"coder": coder, "host": host, "port": port,
                                      "token_required": token is not None})
    keys = CoderKeys.for_study(study.root)
    app = create_app(study, coder=coder, token=token, keys=keys)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown

    def link(name: str) -> str:
        return coder_link(keys, name, f"http://{shown}:{port}", token)

    announce(link(coder))
    for name in others:
        announce(f"  link for coder {name} (give it only to {name}): {link(name)}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
