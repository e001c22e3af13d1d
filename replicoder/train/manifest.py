"""Manifests: what a run needs to be repeated (hashes, settings, seeds, package versions)."""

from __future__ import annotations

import datetime as dt
import platform
from importlib import metadata
from typing import Any

PACKAGES = ("replicoder", "torch", "transformers", "peft", "numpy", "accelerate", "pyarrow",
            "pandas")


def package_versions() -> dict[str, str]:
    out: dict[str, str] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def environment(device: str, bf16: bool) -> dict[str, Any]:
    import torch

    return {"device": device, "bf16": bf16, "torch_threads": torch.get_num_threads(),
            "machine": platform.machine(), "packages": package_versions()}
