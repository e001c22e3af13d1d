"""Cache of LLM requests and responses (issue 4)."""

from __future__ import annotations

from replicoder.store.base import Base


class LlmCache(Base):
    SCHEMA = ""
