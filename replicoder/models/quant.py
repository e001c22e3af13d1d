"""QLoRA end to end: the 4-bit base a model was trained on, recorded in its folder and
loaded again, the same, wherever it is used (evaluate, classify, reproduce).

Training with ``--quantize 4bit`` loads the base in bitsandbytes NF4 (double
quantisation) computing in the run's precision (bf16 where chosen, else fp32). The
manifest records that as ``quantization``; :func:`recorded` reads it back (a model from
before this record falls back to its settings). A model trained on a 4-bit base is loaded
on the same 4-bit base with its adapter on top, never merged: merging into NF4 weights
rounds them again, and the adapter was validated on the quantised base.
"""

from __future__ import annotations

from typing import Any

from replicoder.errors import ReplicoderError

__all__ = ["bnb_config", "compute_dtype", "record", "recorded", "require_device"]

DTYPES = ("bfloat16", "float16", "float32")


def record(quantize: str | None, bf16: bool) -> dict[str, Any] | None:
    """What a run's ``--quantize`` loads, for the manifest (None: full-precision base)."""
    if quantize is None:
        return None
    return {"method": "bitsandbytes", "bits": 4, "quant_type": "nf4", "double_quant": True,
            "compute_dtype": "bfloat16" if bf16 else "float32"}


def recorded(manifest: dict[str, Any], settings: dict[str, Any], bf16: bool
             ) -> dict[str, Any] | None:
    """The quantisation a model folder says its base had; a clear error if unreadable."""
    if "quantization" in manifest:
        rec = manifest["quantization"]
    else:  # trained before the manifest recorded it: the settings say whether
        rec = record(settings.get("quantize"), bf16)
    if rec is None:
        return None
    if (not isinstance(rec, dict) or rec.get("quant_type") not in ("nf4", "fp4")
            or rec.get("compute_dtype") not in DTYPES):
        raise ReplicoderError(
            f"manifest.json gives quantization {rec!r}: expected bitsandbytes nf4 with a "
            f"compute_dtype of {', '.join(DTYPES)}; retrain the model"
        )
    return dict(rec)


def compute_dtype(rec: dict[str, Any]) -> Any:
    import torch

    return getattr(torch, str(rec["compute_dtype"]))


def bnb_config(rec: dict[str, Any]) -> Any:
    """transformers' BitsAndBytesConfig for a recorded quantisation."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=str(rec["quant_type"]),
                              bnb_4bit_use_double_quant=bool(rec.get("double_quant", True)),
                              bnb_4bit_compute_dtype=compute_dtype(rec))


def require_device(name: str, rec: dict[str, Any] | None, device: str) -> None:
    """Before any loading: a 4-bit model needs cuda and bitsandbytes."""
    if rec is None:
        return
    import importlib.util

    if not device.startswith("cuda"):
        raise ReplicoderError(
            f"model {name!r} was trained on a 4-bit NF4 base (--quantize 4bit) and is "
            f"loaded on that same base, which needs a CUDA GPU (bitsandbytes); this run is "
            f"on {device}. Run it on a machine with a GPU, or retrain without --quantize"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ReplicoderError(
            f"model {name!r} was trained on a 4-bit NF4 base: loading it needs "
            "bitsandbytes; install it with `pip install bitsandbytes` next to your CUDA torch"
        )
