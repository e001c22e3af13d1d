"""The OpenAI chat-completions wire format: request validation, responses and errors.

Only the fields a local model can honour are typed; unknown fields are accepted and
ignored, as OpenAI-compatible servers (vLLM, llama.cpp) do.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_MAX_TOKENS", "ApiError", "ChatRequest", "Message", "TextPart",
           "completion_body", "error_body"]

DEFAULT_MAX_TOKENS = 512


class ApiError(Exception):
    """An error answered in OpenAI's format: ``{"error": {message, type, param, code}}``."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 param: str | None = None, type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type=self.type, code=self.code, param=self.param)


def error_body(message: str, *, type: str = "invalid_request_error", code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def as_template_dict(self) -> dict[str, str]:
        """``{"role", "content"}`` for the chat template; "developer" becomes "system"."""
        content = self.content
        if isinstance(content, list):
            content = "\n".join(part.text for part in content)
        role = "system" if self.role == "developer" else self.role
        return {"role": role, "content": content or ""}


class ChatRequest(BaseModel):
    """Body of POST /v1/chat/completions. ``temperature`` 0 means greedy decoding."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[Message] = Field(min_length=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    n: int = 1
    stop: str | list[str] | None = None
    stream: bool = False

    def token_limit(self) -> int:
        return self.max_completion_tokens or self.max_tokens or DEFAULT_MAX_TOKENS

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        stops = [self.stop] if isinstance(self.stop, str) else self.stop
        return [s for s in stops if s]

    def check_supported(self) -> None:
        """Reject what this server cannot do, rather than silently doing something else."""
        if self.n != 1:
            raise ApiError(400, "only n=1 is supported", param="n")
        if self.stream:
            raise ApiError(400, "streaming is not supported; send stream=false", param="stream")
        if len(self.stop_list()) > 4:
            raise ApiError(400, "at most 4 stop sequences", param="stop")


def completion_body(*, model: str, text: str, finish_reason: str, prompt_tokens: int,
                    completion_tokens: int, fingerprint: str) -> dict[str, Any]:
    """A ``chat.completion`` object with one choice and token usage."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
