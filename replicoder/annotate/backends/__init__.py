"""Annotator backends, registered in one place: a name, and where its class lives.

A backend is a class taking an AnnotatorConfig that follows the ``Backend`` protocol
(replicoder.annotate.backends.base). To add one: write the module and add a line below.
Modules are imported only when an annotator uses them (the local one loads torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from replicoder.annotate.backends.base import Backend


class Settings(Protocol):
    """What the registry reads of an annotator's settings (an AnnotatorConfig)."""

    @property
    def backend(self) -> str: ...

__all__ = ["NAMES", "create"]

REGISTRY = {
    "openai": "replicoder.annotate.backends.openai_http:OpenAIBackend",
    "local": "replicoder.annotate.backends.local_hf:LocalBackend",
}
NAMES = tuple(REGISTRY)


def create(cfg: Settings) -> Backend:
    """The backend ``cfg.backend`` names, configured by ``cfg``."""
    module, _, name = REGISTRY[cfg.backend].partition(":")
    backend: Backend = getattr(importlib.import_module(module), name)(cfg)
    return backend
