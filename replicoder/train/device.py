"""Device and precision: cuda with bf16 when present, the CPU otherwise (bf16 where it has it)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from replicoder.models.loading import pick_device, quiet

__all__ = ["autocast", "choose", "cpu_has_bf16", "quiet", "use_bf16"]

if TYPE_CHECKING:
    from contextlib import AbstractContextManager


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX-512 BF16 or AMX): autocast pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(device: str, precision: str) -> bool:
    import torch

    if precision != "auto":
        return precision == "bf16"
    if device.startswith("cuda"):
        return bool(torch.cuda.is_bf16_supported())
    return cpu_has_bf16()


def choose(device: str | None, precision: str) -> tuple[str, bool]:
    """(device, bf16?) for a run: ``device`` None picks cuda when present."""
    dev = pick_device(device)
    return dev, use_bf16(dev, precision)


def autocast(device: str, bf16: bool) -> AbstractContextManager[object]:
    import torch

    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)
