"""API keys: read from the environment variable a setting names, never stored anywhere."""

from __future__ import annotations

import os

from replicoder.errors import ReplicoderError

__all__ = ["key_from_env"]


def key_from_env(variable: str, who: str, advice: str) -> str:
    """The value of ``variable``; a clear error naming ``who`` needs it if unset or empty."""
    key = os.environ.get(variable, "")
    if not key:
        raise ReplicoderError(
            f"{who}: the environment variable {variable} is unset or empty; "
            f"export {variable}=... {advice}"
        )
    return key
