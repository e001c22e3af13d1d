"""How many parameters a model has: the x axis of the seed paper's size figures."""

from __future__ import annotations

from typing import Any

__all__ = ["parameter_count"]


def parameter_count(model: Any, *, frozen_only: bool = False) -> int:
    """The number of weights of a torch module (``frozen_only``: those not trained, i.e. the
    base model's under LoRA). 4-bit weights count as stored, about half their number."""
    return int(sum(p.numel() for p in model.parameters()
                   if not (frozen_only and p.requires_grad)))
