"""Where and in what precision models run: the one place that chooses device and dtype.

cuda with bf16 when a GPU is present; the CPU otherwise, with bf16 autocast where the CPU
computes bf16 natively (AVX-512 BF16 or AMX). torch is imported inside the functions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replicoder.errors import ReplicoderError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["BASE_DTYPES", "PRECISIONS", "autocast", "choose", "cpu_has_bf16", "guard_attention",
           "length_batches", "to_device", "train_attention", "train_dtype", "pick_device",
           "quiet", "use_bf16"]

PRECISIONS = ("auto", "bf16", "fp32")


def pick_device(device: str | None = None) -> str:
    """'cuda' when a GPU is present (or asked for), else 'cpu'."""
    import torch

    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ReplicoderError(f"device {device!r} asked for, but no CUDA GPU is available")
        return guard_attention(device)
    return guard_attention("cuda" if torch.cuda.is_available() else "cpu")


def guard_attention(device: str) -> str:
    """Switch off cuDNN's attention kernels on cuda; return ``device``.

    On sm90 (H100/H200) with recent cuDNN, PyTorch prefers cuDNN for bf16 attention,
    and its backward gives NaN gradients for padded rows (pytorch issues on cuDNN SDPA);
    the flash and memory-efficient kernels are as fast at our sequence lengths.
    """
    if device.startswith("cuda"):
        import torch

        torch.backends.cuda.enable_cudnn_sdp(False)
    return device


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX-512 BF16 or AMX): autocast pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(device: str, precision: str) -> bool:
    import torch

    if precision not in PRECISIONS:
        raise ReplicoderError(f"precision {precision!r}: use {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision == "bf16"
    if device.startswith("cuda"):
        return bool(torch.cuda.is_bf16_supported())
    return cpu_has_bf16()


def choose(device: str | None, precision: str) -> tuple[str, bool]:
    """(device, bf16?) for a run: ``device`` None picks cuda when present."""
    dev = pick_device(device)
    return dev, use_bf16(dev, precision)


BASE_DTYPES = ("auto", "bf16", "fp32")
SERVE_DTYPES = ("auto", "bfloat16", "float16", "float32")


def serve_dtype(device: str, dtype: str = "auto") -> Any:
    """torch dtype of a model that only generates: "auto" is bf16 on cuda, fp32 elsewhere."""
    import torch

    if dtype not in SERVE_DTYPES:
        raise ReplicoderError(f"dtype {dtype!r}: choose one of {', '.join(SERVE_DTYPES)}")
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def train_dtype(device: str, bf16: bool, base_dtype: str = "auto") -> Any:
    """dtype of the frozen base weights in training: with bf16 chosen, bf16 on cuda ("auto")
    or everywhere ("bf16": no autocast re-cast of fp32 weights at every step); None (fp32)
    otherwise. The trainable adapters and head stay fp32 (TrainConfig.with_lora)."""
    import torch

    if base_dtype not in BASE_DTYPES:
        raise ReplicoderError(f"base dtype {base_dtype!r}: use {', '.join(BASE_DTYPES)}")
    wanted = base_dtype == "bf16" or (base_dtype == "auto" and device.startswith("cuda"))
    return torch.bfloat16 if bf16 and wanted else None


def train_attention(device: str) -> str | None:
    """Attention kernels for training: "eager" on the CPU, where the backward of torch's
    CPU flash attention cost a fifth of a classifier step (measured on SmolLM2-135M, 2 cores:
    1.47 s against 1.76 s per step of 16 bill titles); the default (sdpa) elsewhere and for
    inference, where sdpa is the faster (48 against 42 titles/s)."""
    return "eager" if device == "cpu" else None


def autocast(device: str, bf16: bool) -> AbstractContextManager[object]:
    import torch

    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)


def to_device(tensor: Any, device: str) -> Any:
    """``tensor`` on ``device``: through pinned memory and a non-blocking copy on cuda."""
    if device.startswith("cuda"):
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Index batches for inference, sorted by length so that each batch pads little."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def quiet() -> None:
    """Silence transformers' load reports and weight-loading bars (we draw our own)."""
    import warnings

    from transformers.utils import logging

    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    _quiet_gguf()


def _quiet_gguf() -> None:
    """The GGUF converter calls tqdm directly, ignoring the switch above: mute that bar."""
    import functools

    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    bar: Any = getattr(gguf_utils, "tqdm", None)
    if bar is not None and not isinstance(bar, functools.partial):
        module: Any = gguf_utils
        module.tqdm = functools.partial(bar, disable=True)
