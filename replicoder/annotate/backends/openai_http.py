"""Any OpenAI-compatible chat-completions endpoint: OpenAI, vLLM, Ollama, llama.cpp,
``replicoder serve``. The key is read from the environment variable the annotator names
and lives only in the client object: never in study.db, logs or manifests."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from replicoder.annotate.backends.base import Response
from replicoder.annotate.config import AnnotatorConfig, host_of
from replicoder.annotate.ratelimit import RateLimiter
from replicoder.annotate.structured import refuses_schema
from replicoder.errors import ReplicoderError
from replicoder.keys import key_from_env
from replicoder.labels.prompts import Messages

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = ["MAX_WAIT_S", "OPENAI_URL", "OpenAIBackend"]

OPENAI_URL = "https://api.openai.com/v1"
MAX_WAIT_S = 60.0


class OpenAIBackend:
    """Sends one request per call; safe to call from several threads at once."""

    kind = "openai"

    def __init__(self, cfg: AnnotatorConfig,
                 notify: Callable[[str], None] | None = None) -> None:
        self.cfg = cfg
        self.notify = notify or _stderr
        self.model_id = cfg.model
        self.base_url = cfg.base_url or OPENAI_URL
        self.concurrency = cfg.max_concurrency
        self.limiter = RateLimiter(cfg.requests_per_minute)
        self._client: OpenAI | None = None
        self._lock = threading.Lock()
        self.retries = 0  # retried requests so far (429, 5xx, timeouts)
        self.closed = False
        # A JSON schema for the answer (annotate.structured); dropped, with a note, the
        # first time the server refuses it.
        self.response_format: dict[str, Any] | None = None
        self.schema_refused = False

    def _who(self) -> str:
        return f"annotator {self.cfg.name!r} ({self.base_url}, model {self.cfg.model!r})"

    def api_key(self) -> str:
        env = self.cfg.api_key_env
        if not env:
            return "none"  # local servers (vLLM, Ollama, replicoder serve) take any key
        return key_from_env(env, f"annotator {self.cfg.name!r}",
                            "with your API key (keys are never stored in the study)")

    def client(self) -> OpenAI:
        with self._lock:
            if self._client is None:
                from openai import OpenAI

                key = self.api_key()
                if self.cfg.api_key_env:  # said before the first request leaves
                    self.notify(f"annotator {self.cfg.name!r}: the API key from "
                                f"{self.cfg.api_key_env} goes to host "
                                f"{host_of(self.base_url)!r} ({self.base_url})")
                self._client = OpenAI(api_key=key, base_url=self.base_url,
                                      timeout=self.cfg.timeout_s, max_retries=0)
            return self._client

    def close(self) -> None:
        """Stop: requests in flight fail fast, so Ctrl-C does not wait for slow servers."""
        with self._lock:
            self.closed = True
            if self._client is not None:
                self._client.close()

    def answer_all(self, requests: Sequence[Messages]) -> Iterator[tuple[int, Response]]:
        """Up to ``max_concurrency`` requests in flight; answers in the order they arrive."""
        self.client()  # a missing key fails here, before any thread starts
        pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                  thread_name_prefix=self.cfg.name)
        try:
            pending: dict[Future[Response], int] = {}
            queue = iter(range(len(requests)))
            for i in queue:
                pending[pool.submit(self.complete, requests[i])] = i
                if len(pending) >= self.concurrency:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    yield i, fut.result()
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(self.complete, requests[nxt])] = nxt
        except BaseException:
            self.close()
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def complete(self, messages: Messages) -> Response:
        """One chat completion, retried with backoff on 429, 5xx, timeouts and lost
        connections; a ReplicoderError naming the annotator for anything else."""
        import openai

        client = self.client()
        cfg = self.cfg
        for attempt in range(cfg.max_retries + 1):
            self.limiter.wait()
            if self.closed:
                raise ReplicoderError(f"{self._who()}: stopped")
            start = time.monotonic()
            fmt = None if self.schema_refused else self.response_format
            extra: dict[str, Any] = {"response_format": fmt} if fmt else {}
            try:
                reply = client.chat.completions.create(
                    model=cfg.model, messages=messages,  # type: ignore[arg-type]
                    temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed,
                    **extra,
                )
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                env = cfg.api_key_env or "(none: set api_key_env)"
                raise ReplicoderError(
                    f"{self._who()}: the server refused the API key from {env} "
                    f"(HTTP {exc.status_code}); check the key and that api_key_env names it"
                ) from None
            except openai.NotFoundError as exc:
                raise ReplicoderError(
                    f"{self._who()}: not found (HTTP 404: {_detail(exc)}); check the model "
                    "name and that base_url ends with /v1"
                ) from None
            except (openai.RateLimitError, openai.InternalServerError,
                    openai.APIConnectionError) as exc:
                if attempt == cfg.max_retries:
                    raise ReplicoderError(
                        f"{self._who()}: gave up after {attempt + 1} tries: {_detail(exc)}. "
                        "Answers so far are saved; run the command again to go on"
                    ) from None
                with self._lock:
                    self.retries += 1
                time.sleep(_backoff(exc, attempt, cfg.retry_backoff_s))
                continue
            except openai.APIStatusError as exc:
                if fmt and refuses_schema(exc.status_code, _detail(exc)):
                    self._refused(exc)
                    return self.complete(messages)
                raise ReplicoderError(
                    f"{self._who()}: HTTP {exc.status_code}: {_detail(exc)}"
                ) from None
            text = reply.choices[0].message.content or "" if reply.choices else ""
            usage = reply.usage
            return Response(
                text=text,
                input_tokens=int(usage.prompt_tokens) if usage else 0,
                output_tokens=int(usage.completion_tokens) if usage else 0,
                seconds=time.monotonic() - start,
            )
        raise AssertionError("unreachable")


    def _refused(self, exc: Exception) -> None:
        with self._lock:
            if not self.schema_refused:
                self.schema_refused = True
                self.notify(f"note: {self._who()} does not take a JSON schema for its "
                            f"answers ({_detail(exc)}); sending the plain prompt instead")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _detail(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    head = f"HTTP {status}" if status else type(exc).__name__
    body: Any = getattr(exc, "body", None)
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body
    return f"{head} {str(body or exc)[:200].rstrip('. ')}"


def _backoff(exc: Exception, attempt: int, base: float) -> float:
    """Retry-After when the server sends one, else exponential with jitter."""
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    if header:
        try:
            return min(float(header), MAX_WAIT_S)
        except ValueError:
            pass
    return min(base * 2**attempt * (0.5 + random.random() / 2), MAX_WAIT_S)
