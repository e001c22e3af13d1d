"""Host-side helpers of the hot loops (training steps, classify windows): batches padded
on the host and moved to the device once, with non-blocking copies; no padding mask where
it changes nothing; no dtype casts that autocast undoes.

A causal model's real tokens never attend to later positions, so with padding on the
right the padding mask changes nothing for them: their hidden states are the same, to the
bit, with or without it (tests/train/test_hot_loop.py). Leaving it out (SDPA's causal
kernel, :func:`use_causal_attention`) spares transformers' mask building, which reads a
device value on every forward (a host sync), and lets SDPA take its fastest kernels.
Padded positions are never read (the classification head pools the last real token; the
answer loss picks real positions).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from replicoder.models.runtime import to_device

__all__ = ["CAUSAL_SDPA", "SYNC_OPS", "HostBatch", "causal_attention", "default_batch",
           "host_batch", "needs_padding_mask", "on_device", "pad_right", "skip_input_casts",
           "use_causal_attention"]

# aten operators that make the host wait for the device (a value read back, or an output
# whose size depends on the data)
SYNC_OPS = frozenset({
    "aten::_local_scalar_dense", "aten::item", "aten::is_nonzero", "aten::equal",
    "aten::nonzero", "aten::masked_select", "aten::_unique2", "aten::unique_consecutive",
    "aten::unique_dim", "aten::allclose", "aten::_assert_scalar",
})

HostBatch = dict[str, Any]  # input_ids (and attention_mask where needed), on the host


def pad_right(ids: Sequence[Sequence[int]], pad: int, multiple: int = 1
              ) -> tuple[np.ndarray, np.ndarray]:
    """(token ids (n, width) padded on the right with ``pad``, lengths (n,)); the width
    rounded up to a multiple of ``multiple`` (fixed shape buckets for torch.compile)."""
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    width = int(lengths.max()) if len(ids) else 0
    width = -(-width // multiple) * multiple
    out = np.full((len(ids), width), pad, dtype=np.int64)
    for row, x in enumerate(ids):
        out[row, :len(x)] = x
    return out, lengths


CAUSAL_SDPA = "replicoder_causal_sdpa"  # SDPA, causal kernel, no mask (registered once)


def _causal_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                 **kwargs: Any) -> Any:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(module, query, key, value, None, **kwargs)


@functools.cache
def _register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(CAUSAL_SDPA, _causal_sdpa)


def _inner(model: Any) -> Any:
    """The transformers model inside a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _is_causal_lm(config: Any) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return (not getattr(config, "is_encoder_decoder", False)
            and getattr(config, "model_type", None) in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
            and getattr(config, "sliding_window", None) is None)


def use_causal_attention(model: Any) -> bool:
    """Switch a decoder-only model's SDPA attention to SDPA's causal kernel with no mask,
    for right-padded batches only (never for generation, which pads on the left); True
    when it runs so. transformers builds no mask for it at all: with a mask, or without
    one and without a cache, its mask code reads the device (``if padding_mask.all()``,
    packed-sequence detection) on every forward. Other attention kernels are left as
    they are (eager builds its mask without a sync) and keep the padding mask."""
    inner = _inner(model)
    config = getattr(inner, "config", None)
    impl = getattr(config, "_attn_implementation", None)
    if impl == CAUSAL_SDPA:
        return True
    if impl != "sdpa" or not _is_causal_lm(config):
        return False
    _register()
    inner.set_attn_implementation(CAUSAL_SDPA)
    return bool(inner.config._attn_implementation == CAUSAL_SDPA)


def needs_padding_mask(model: Any) -> bool:
    """False once :func:`use_causal_attention` switched the model (its right-padded
    batches go without a mask), True otherwise."""
    config = getattr(_inner(model), "config", None)
    return getattr(config, "_attn_implementation", None) != CAUSAL_SDPA


@contextlib.contextmanager
def causal_attention(model: Any) -> Iterator[bool]:
    """:func:`use_causal_attention` for the block's duration; SDPA with masks after it."""
    switched = needs_padding_mask(model) and use_causal_attention(model)
    try:
        yield not needs_padding_mask(model)
    finally:
        if switched:
            _inner(model).set_attn_implementation("sdpa")


def host_batch(ids: Sequence[Sequence[int]], pad: int, *, mask: bool, device: str,
               multiple: int = 1) -> HostBatch:
    """One right-padded batch as host tensors (pinned when bound for cuda)."""
    import torch

    tokens, lengths = pad_right(ids, pad, multiple)
    batch: HostBatch = {"input_ids": torch.from_numpy(tokens)}
    if mask:
        width = tokens.shape[1]
        batch["attention_mask"] = torch.from_numpy(
            (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64))
    if device.startswith("cuda"):
        batch = {k: v.pin_memory() for k, v in batch.items()}
    return batch


def on_device(batch: HostBatch, device: str) -> HostBatch:
    """The batch's tensors on ``device``: non-blocking copies from pinned memory."""
    return {k: to_device(v, device) for k, v in batch.items()}


def skip_input_casts(model: Any) -> int:
    """Stop peft casting each LoRA layer's input to the adapter's dtype (fp32), which
    autocast casts straight back to bf16: two casts per adapted layer and pass, for the
    same numbers. Only for models run under autocast. Returns the layers changed."""
    count = 0
    for module in model.modules():
        if hasattr(module, "cast_input_dtype_enabled"):
            module.cast_input_dtype_enabled = False
            count += 1
    return count


def default_batch(device: str) -> int:
    """classify's batch when none is given: 32 on the CPU; on cuda 1024 with at least
    16 GiB free on the device, else 512."""
    if not device.startswith("cuda"):
        return 32
    import torch

    free, _ = torch.cuda.mem_get_info(torch.device(device))
    return 1024 if free >= 16 * 2**30 else 512
