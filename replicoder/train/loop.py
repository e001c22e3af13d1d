"""The training loop shared by both modes: AdamW, warmup + linear decay, early stopping on
validation, checkpoints that resume bit-for-bit, and progress reports with the loss."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replicoder.errors import ReplicoderError
from replicoder.progress import Progress, start
from replicoder.train.config import TrainConfig
from replicoder.train.data import train_batches

CHECKPOINT = "checkpoint.pt"


class TrainingStopped(ReplicoderError):
    """Training stopped before the end on purpose; the checkpoint lets it resume."""


@dataclass
class LoopResult:
    best_score: float
    best_step: int
    steps: int
    seconds: float
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)


def _trainable(model: Any) -> dict[str, Any]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _load_trainable(model: Any, state: dict[str, Any]) -> None:
    params = dict(model.named_parameters())
    for name, value in state.items():
        params[name].data.copy_(value)


def _load_checkpoint(torch: Any, path: Path) -> dict[str, Any]:
    """Tensors and plain values only: a shared study's checkpoint must not run a pickle."""
    try:
        saved: dict[str, Any] = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
        raise ReplicoderError(
            f"{path}: not a checkpoint that loads safely ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}). Delete it to train from the start"
        ) from None
    return saved


def _optimizer(model: Any, config: TrainConfig) -> Any:
    import torch

    head: list[Any] = []
    body: list[Any] = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (head if "modules_to_save" in name else body).append(p)
    lr = config.lr
    assert lr is not None, "TrainConfig.__post_init__ sets the mode's default"
    groups = [{"params": body, "lr": lr}]
    if head:
        groups.append({"params": head, "lr": config.head_lr or lr})
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay)


def _schedule(optimizer: Any, total: int, warmup_ratio: float) -> Any:
    import torch

    warmup = max(1, int(total * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def run(
    model: Any,
    lengths: list[int],
    step_loss: Callable[[list[int]], Any],
    evaluate: Callable[[], tuple[float, dict[str, float]]],
    config: TrainConfig,
    workdir: Path,
    *,
    progress: Progress | None = None,
    stop_after: int | None = None,
) -> LoopResult:
    """Train ``model``'s trainable parameters; leave the best ones (by ``evaluate``) loaded.

    ``step_loss(batch_indices)`` returns the scalar loss of one batch; ``evaluate()``
    returns (a validation score to select on, higher is better; the named figures the
    progress callback shows, e.g. {"val_accuracy": 0.8} or {"val_loss": 0.41}). A
    checkpoint in ``workdir`` from an earlier, interrupted call with the same settings is
    resumed. ``stop_after``: stop
    (raising TrainingStopped) once this many optimizer steps are done, after a checkpoint.
    """
    import torch

    per_epoch = math.ceil(len(lengths) / config.batch_size)
    total = per_epoch * config.epochs
    eval_every = config.eval_every or per_epoch
    optimizer = _optimizer(model, config)
    scheduler = _schedule(optimizer, total, config.warmup_ratio)
    state: dict[str, Any] = {
        "step": 0, "best_score": -math.inf, "best_step": 0, "best": _trainable(model),
        "bad": 0, "history": [], "seconds": 0.0, "stopped_early": False,
    }
    path = workdir / CHECKPOINT
    if path.is_file():
        saved = _load_checkpoint(torch, path)
        _load_trainable(model, saved.pop("trainable"))
        optimizer.load_state_dict(saved.pop("optimizer"))
        scheduler.load_state_dict(saved.pop("scheduler"))
        torch.set_rng_state(saved.pop("rng"))
        cuda_rng = saved.pop("cuda_rng", None)
        if cuda_rng is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_rng)
        state.update(saved)

    def save() -> None:
        blob = {**state, "trainable": _trainable(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available()
                else None}
        tmp = path.with_suffix(".tmp")
        torch.save(blob, tmp)
        os.replace(tmp, path)

    started = time.perf_counter() - state["seconds"]
    task = start(progress, "training", total, state["step"])
    running_loss = math.nan
    done_this_call = 0
    while state["step"] < total and not state["stopped_early"]:
        step = state["step"]
        epoch, index = divmod(step, per_epoch)
        batch = train_batches(lengths, config.batch_size, config.seed, epoch)[index]
        model.train()
        loss = step_loss(batch)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] = step + 1
        done_this_call += 1
        value = float(loss.detach())
        running_loss = value if math.isnan(running_loss) else 0.9 * running_loss + 0.1 * value
        task(1, loss=running_loss)
        if state["step"] % eval_every == 0 or state["step"] == total:
            model.eval()
            score, figures = evaluate()
            state["history"].append({"step": state["step"], "validation": score, **figures})
            task(0, **figures)
            if score > state["best_score"]:
                state.update(best_score=score, best_step=state["step"], bad=0,
                             best=_trainable(model))
            else:
                state["bad"] += 1
                state["stopped_early"] = state["bad"] >= config.patience
        state["seconds"] = time.perf_counter() - started
        finished = state["step"] == total or state["stopped_early"]
        if finished or state["step"] % config.checkpoint_every == 0 or (
            stop_after is not None and done_this_call >= stop_after
        ):
            save()
        if stop_after is not None and done_this_call >= stop_after and not finished:
            raise TrainingStopped(
                f"training stopped after {state['step']} of {total} steps as asked; "
                "run the same command again to resume"
            )
    _load_trainable(model, state["best"])
    model.eval()
    return LoopResult(state["best_score"], state["best_step"], state["step"],
                      state["seconds"], state["stopped_early"], state["history"])

