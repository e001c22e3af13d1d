"""The FastAPI app and the `serve` entry point: an OpenAI-compatible local model server.

Routes: POST /v1/chat/completions, GET /v1/models, GET /v1/models/{id}, GET /health.
Errors use OpenAI's format with 400 (malformed request), 401 (wrong bearer token when an
API key is set), 404 (unknown model or route) and 413 (body or prompt over the limits).
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from replicoder.keys import key_from_env
from replicoder.models.base import EMBEDDED
from replicoder.serve.engine import Engine, load_engine
from replicoder.serve.limits import BodyLimit, RequestLimits, check_prompt
from replicoder.serve.schema import ApiError, ChatRequest, completion_body, error_body

__all__ = ["DISCONNECT_POLL_S", "LOOPBACK", "api_key_from_env", "create_app", "serve"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DISCONNECT_POLL_S = 0.1


def api_key_from_env(api_key_env: str | None) -> str | None:
    """The key held by the environment variable named ``api_key_env`` (never the key itself)."""
    if api_key_env is None:
        return None
    return key_from_env(api_key_env, f"--api-key-env {api_key_env}",
                        "before starting the server")


def create_app(model: str = EMBEDDED, adapter: Path | str | None = None, *,
               name: str | None = None, api_key_env: str | None = None,
               device: str | None = None, dtype: str = "auto",
               engine: Engine | None = None, limits: RequestLimits | None = None) -> FastAPI:
    """Load the model (unless ``engine`` is given) and build the app that serves it.
    ``limits``: the largest request body and prompt answered (larger ones get 413)."""
    limits = limits or RequestLimits()
    key = api_key_from_env(api_key_env)
    if engine is None:
        engine = load_engine(model, Path(adapter) if adapter is not None else None,
                             name=name, device=device, dtype=dtype)
    server = _Server(engine, key, limits)
    app = FastAPI(title="replicoder serve", summary="OpenAI-compatible local model server")
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, limit=limits.max_request_bytes)
    _add_routes(app, server)
    return app


class _Server:
    """What the routes share: the engine, when it started, the API key (None: no check),
    the request limits and the one generation thread."""

    def __init__(self, engine: Engine, key: str | None, limits: RequestLimits) -> None:
        self.engine = engine
        self.key = key
        self.limits = limits
        self.started = int(time.time())
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replicoder-generate")

    async def authorise(self, request: Request) -> None:
        """Refuse a request without the server's bearer token (when it has an API key)."""
        if self.key is None:
            return
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(token.encode(), self.key.encode()):
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    def model_card(self) -> dict[str, Any]:
        return {"id": self.engine.name, "object": "model", "created": self.started,
                "owned_by": "replicoder", "replicoder": self.engine.info}

    def known(self, model_id: str) -> None:
        """Refuse a model id other than the served one (404)."""
        if model_id != self.engine.name:
            raise ApiError(404, f"The model '{model_id}' does not exist; this server has "
                           f"'{self.engine.name}'.", code="model_not_found", param="model")

    def answer(self, req: ChatRequest, cancel: threading.Event) -> dict[str, Any]:
        """Generate the completion (on the generation thread)."""
        engine = self.engine
        if cancel.is_set():  # the client left while this request waited in the queue
            raise ApiError(499, "The client closed the connection.")
        ids = engine.prompt_ids([m.as_template_dict() for m in req.messages])
        limit = req.token_limit()
        if len(ids) + limit > engine.context_length:
            raise ApiError(
                400, f"This model's maximum context length is {engine.context_length} tokens; "
                f"the messages have {len(ids)} and max_tokens is {limit}.",
                code="context_length_exceeded", param="messages")
        out = engine.generate(ids, max_tokens=limit, temperature=req.temperature,
                              top_p=req.top_p, seed=req.seed, stop=req.stop_list(),
                              cancel=cancel)
        return completion_body(model=engine.name, text=out.text,
                               finish_reason=out.finish_reason,
                               prompt_tokens=out.prompt_tokens,
                               completion_tokens=out.completion_tokens,
                               fingerprint=engine.fingerprint)

    async def chat(self, req: ChatRequest, request: Request) -> dict[str, Any]:
        """Check the request, queue it and wait for its answer."""
        self.known(req.model)
        req.check_supported()
        check_prompt(req, self.limits.max_prompt_chars)
        # One generation thread: requests queue in arrival order, the event loop stays free.
        # A client that disconnects cancels its generation, so later requests do not wait.
        cancel = threading.Event()
        future = asyncio.wrap_future(self.worker.submit(self.answer, req, cancel))
        while True:
            done, _ = await asyncio.wait({future}, timeout=DISCONNECT_POLL_S)
            if done:
                return future.result()
            if await request.is_disconnected():
                cancel.set()
                raise ApiError(499, "The client closed the connection.")


def _add_routes(app: FastAPI, server: _Server) -> None:
    guarded = [Depends(server.authorise)]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": server.engine.name}

    @app.get("/v1/models", dependencies=guarded)
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [server.model_card()]}

    @app.get("/v1/models/{model_id:path}", dependencies=guarded)
    def get_model(model_id: str) -> dict[str, Any]:
        server.known(model_id)
        return server.model_card()

    @app.post("/v1/chat/completions", dependencies=guarded)
    async def chat(req: ChatRequest, request: Request) -> dict[str, Any]:
        return await server.chat(req, request)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            return JSONResponse(error_body("The request body is not valid JSON."), 400)
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        param = ".".join(loc) or None
        where = f" at '{param}'" if param else ""
        msg = f"Invalid request{where}: {first.get('msg', 'malformed body')}"
        return JSONResponse(error_body(msg, param=param), status_code=400)

    @app.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception) -> JSONResponse:
        body = error_body(f"The server failed: {type(exc).__name__}: {exc}", type="server_error")
        return JSONResponse(body, status_code=500)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else None
        return JSONResponse(error_body(str(exc.detail), code=code), status_code=exc.status_code)


def serve(model: str = EMBEDDED, adapter: Path | str | None = None, host: str = "127.0.0.1",
          port: int = 8000, *, name: str | None = None, api_key_env: str | None = None,
          device: str | None = None, dtype: str = "auto", log_level: str = "info",
          limits: RequestLimits | None = None) -> None:
    """Serve a model until interrupted (Ctrl-C). Binds loopback unless ``host`` says otherwise."""
    import uvicorn

    app = create_app(model, adapter, name=name, api_key_env=api_key_env, device=device,
                     dtype=dtype, limits=limits)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
