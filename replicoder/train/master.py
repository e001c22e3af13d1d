"""bf16 working copies of the trainable weights, fp32 masters in the optimizer.

Under bf16 autocast each fp32 LoRA weight is cast to bf16 at every forward and its
gradient cast back at every backward: four casts per adapted layer and step (840 for
SmolLM2's 210 adapted layers), the largest group of operators in a launch-bound GPU step.
Here the model holds the bf16 copies (exactly autocast's casts), the optimizer updates
fp32 masters, and two foreach copies per step move the gradients up and the weights
down: the same numbers as before, bit for bit (autocast's bf16 gradient upcast is this
copy), with two operators instead of hundreds. Everything outside the step (validation,
checkpoints, the saved adapter) sees the fp32 masters.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Masters"]


class Masters:
    """fp32 masters of ``params`` (the model's trainable weights, which become bf16)."""

    def __init__(self, params: list[Any]) -> None:
        import torch

        self.params = params
        self.masters = [torch.nn.Parameter(p.detach().clone()) for p in params]
        for m in self.masters:
            m.grad = torch.zeros_like(m)
        self.names: dict[int, int] = {id(p): i for i, p in enumerate(params)}
        for p in params:
            p.data = p.data.to(torch.bfloat16)

    def master_of(self, param: Any) -> Any | None:
        i = self.names.get(id(param))
        return None if i is None else self.masters[i]

    def grads_up(self) -> None:
        """The bf16 gradients into the masters' fp32 gradients (one foreach copy)."""
        import torch

        grads: list[Any] = [p.grad for p in self.params]
        if all(g is not None for g in grads) and all(m.grad is not None
                                                     for m in self.masters):
            targets: list[Any] = [m.grad for m in self.masters]
            torch._foreach_copy_(targets, grads)
        else:  # a weight the step did not reach has no gradient: AdamW skips it
            for p, m in zip(self.params, self.masters, strict=True):
                m.grad = None if p.grad is None else p.grad.float()
        for p in self.params:
            p.grad = None

    def weights_down(self) -> None:
        """The updated masters into the model's bf16 weights (one foreach copy)."""
        import torch

        masters: list[Any] = list(self.masters)
        with torch.no_grad():  # not ``p.data``: that is one more (detach) operator each
            torch._foreach_copy_(self.params, masters)

    def restore(self) -> None:
        """The model's trainable weights back to fp32 (the masters' values)."""
        for p, m in zip(self.params, self.masters, strict=True):
            p.data = m.detach().clone()
