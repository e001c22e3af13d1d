"""The adapter a run loads against the one its model's manifest claims (training wrote it)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

__all__ = ["AdapterMismatchWarning", "adapter_mismatch", "run_adapter_problems", "warn_adapter"]


class AdapterMismatchWarning(UserWarning):
    """The adapter weights on disk are not the ones training recorded."""


def adapter_mismatch(name: str, loaded: str, claimed: Any) -> str | None:
    """The sentence saying that ``loaded`` differs from the manifest's ``claimed``, or None."""
    if not claimed or claimed == loaded:
        return None
    return (f"model {name!r}: the adapter loaded has sha256 {loaded[:12]}, but the model's "
            f"manifest says {str(claimed)[:12]}: the adapter was changed after training, so "
            "these answers do not come from the trained model; retrain or restore it")


def warn_adapter(name: str, loaded: str, manifest: dict[str, Any]) -> str | None:
    """Warn (AdapterMismatchWarning) when the loaded adapter is not the manifest's."""
    message = adapter_mismatch(name, loaded, manifest.get("adapter_sha256"))
    if message:
        warnings.warn(message, AdapterMismatchWarning, stacklevel=3)
    return message


def run_adapter_problems(runs: Iterable[tuple[str, dict[str, Any]]],
                         claimed: dict[str, Any]) -> list[str]:
    """Runs (id, manifest) that loaded another adapter than their model's manifest
    (``claimed``: model name -> adapter sha256) says: their answers cannot be re-made."""
    out: list[str] = []
    for run_id, m in runs:
        if m.get("kind") == "classify":
            used = {str(m.get("model")): m.get("adapter_sha256")}
        elif m.get("kind") == "evaluate" and isinstance(m.get("models"), dict):
            used = {k: v.get("adapter_sha256") for k, v in m["models"].items()
                    if isinstance(v, dict) and v.get("kind") == "fine-tuned"}
        else:
            continue
        for model, sha in used.items():
            want = claimed.get(model)
            if sha and want and sha != want:
                out.append(f"run {run_id} ({m['kind']}) loaded model {model!r} with adapter "
                           f"{str(sha)[:12]}, but the model's manifest says {str(want)[:12]}: "
                           "the run used other weights than the archive holds")
    return out
