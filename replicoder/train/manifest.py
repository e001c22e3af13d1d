"""Manifests of model runs: the shared fields plus the device they ran on."""

from __future__ import annotations

import platform
from typing import Any

from replicoder.manifest import now, versions

__all__ = ["environment", "now"]


def environment(device: str, bf16: bool) -> dict[str, Any]:
    import torch

    return {"device": device, "bf16": bf16, "torch_threads": torch.get_num_threads(),
            "machine": platform.machine(), "packages": versions()}
