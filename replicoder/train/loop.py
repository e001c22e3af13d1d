"""The training loop shared by both modes: AdamW, warmup + linear decay, early stopping on
validation, checkpoints that resume bit-for-bit, and progress reports with the loss.

Fit for a GPU: no host sync per step (the loss is read every SYNC_EVERY steps), the batch
plan built once per epoch, checkpoints at each epoch end and every few minutes, fused
AdamW when every trainable parameter is on cuda."""

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
from replicoder.train.master import Masters

__all__ = ["CHECKPOINT", "COMPILE_BUCKET", "SYNC_EVERY", "LoopResult", "TrainingStopped",
           "compilations", "run", "shapes"]

CHECKPOINT = "checkpoint.pt"
COMPILE_BUCKET = 16  # with --compile, batch widths are multiples of this (few shapes)
SYNC_EVERY = 10  # optimizer steps between reads of the loss on the host


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
    compilations: int | None = None  # graphs compiled during the run (--compile)
    compilations_in_loop: int | None = None  # of which inside the timed loop (0 expected)


def _trainable(model: Any, masters: Masters | None = None) -> dict[str, Any]:
    def value(p: Any) -> Any:
        master = masters.master_of(p) if masters is not None else None
        return (p if master is None else master).detach().clone()

    return {n: value(p) for n, p in model.named_parameters() if p.requires_grad}


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


def _optimizer(model: Any, config: TrainConfig, masters: Masters | None = None) -> Any:
    import torch

    head: list[Any] = []
    body: list[Any] = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            master = masters.master_of(p) if masters is not None else None
            (head if "modules_to_save" in name else body).append(p if master is None
                                                                 else master)
    lr = config.lr
    assert lr is not None, "TrainConfig.__post_init__ sets the mode's default"
    groups = [{"params": body, "lr": lr}]
    if head:
        groups.append({"params": head, "lr": config.head_lr or lr})
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay,
                             fused=True if _fused(model) else None)


def _schedule(optimizer: Any, total: int, warmup_ratio: float) -> Any:
    import torch

    warmup = max(1, int(total * warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _fused(model: Any) -> bool:
    return all(p.is_cuda for p in model.parameters() if p.requires_grad)


def _grad_norm(params: list[Any]) -> Any:
    """Total 2-norm of the gradients, left on the device (no host sync)."""
    import torch

    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.nn.utils.get_total_norm(grads, foreach=True)


def _compile(model: Any) -> None:
    """Compile each transformer layer in place (parameter names stay as they are), with
    dynamic batch and length dimensions: odd-sized batches do not recompile (the
    scorers also round batch widths up to length buckets, COMPILE_BUCKET)."""
    backend = os.environ.get("REPLICODER_COMPILE_BACKEND", "inductor")  # tests: "eager"
    for module in model.modules():
        if type(module).__name__.endswith("DecoderLayer"):
            module.compile(dynamic=True, backend=backend)


def compilations() -> int:
    """Graphs torch.compile has compiled in this process so far."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def shapes(lengths: list[int], config: TrainConfig) -> list[list[int]]:
    """One batch of each shape the run will see (rows, width rounded up to COMPILE_BUCKET),
    over all its epochs: dynamo specialises some layers on the width, so each shape is
    compiled before the timed loop, not in it."""
    seen: dict[tuple[int, int], list[int]] = {}
    for epoch in range(config.epochs):
        for batch in train_batches(lengths, config.batch_size, config.seed, epoch):
            width = -(-max(lengths[i] for i in batch) // COMPILE_BUCKET)
            seen.setdefault((len(batch), width), batch)
    return list(seen.values())


def _warm_up(torch: Any, model: Any, step_loss: Callable[[list[int]], Any],
             batches: list[list[int]]) -> None:
    """A forward and backward of each of ``batches`` with nothing kept (gradients dropped,
    random state restored): compiles the training graphs before the timed loop."""
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    for batch in batches:
        loss = step_loss(batch)
        if loss.requires_grad:
            loss.backward()
    model.zero_grad(set_to_none=True)
    torch.set_rng_state(rng)
    if cuda_rng is not None:
        torch.cuda.set_rng_state_all(cuda_rng)


def _check_finite(what: str, value: float, step: int, total: int, config: TrainConfig
                  ) -> None:
    if not math.isfinite(value):
        raise ReplicoderError(
            f"the {what} is not finite ({value}) at step {step} of {total}: training "
            f"diverged, and the model was not saved; lower --lr (now {config.lr}) or train "
            "with --precision fp32"
        )


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
    low_precision: bool = False,
) -> LoopResult:
    """Train ``model``'s trainable parameters; leave the best ones (by ``evaluate``) loaded.

    ``step_loss(batch_indices)`` returns the scalar loss of one batch (without a graph
    when it ran the backward pass itself, in micro-batches); ``evaluate()``
    returns (a validation score to select on, higher is better; the named figures the
    progress callback shows, e.g. {"val_accuracy": 0.8} or {"val_loss": 0.41}). A
    checkpoint in ``workdir`` from an earlier, interrupted call with the same settings is
    resumed. ``stop_after``: stop
    (raising TrainingStopped) once this many optimizer steps are done, after a checkpoint.
    The loss and gradient norm stay on the device and are read every SYNC_EVERY steps
    (and before each validation and checkpoint); a non-finite one, or a non-finite
    validation score, stops training with a ReplicoderError. ``low_precision``: every
    forward runs under bf16 autocast, so the trainable weights are held in bf16 with fp32
    masters in the optimizer (train.master: the same numbers, far fewer casts).
    """
    import torch

    loop = _Loop(torch, model, lengths, config, workdir / CHECKPOINT, low_precision)
    compiled_before = compilations() if config.compile else 0
    use_cache = getattr(model.config, "use_cache", None)
    model.config.use_cache = False
    model.train()
    try:
        if config.compile and loop.state["step"] < loop.total:  # not in the timed loop
            _compile(model)
            _warm_up(torch, model, step_loss, shapes(lengths, config))
            model.eval()
            evaluate()  # compiles the validation graphs (eval, inference mode) here too
            model.train()
        compiled_warm = compilations() if config.compile else 0
        loop.task = start(progress, "training", loop.total, loop.state["step"])
        loop.train(step_loss, evaluate, stop_after)
    finally:
        model.config.use_cache = use_cache
        if loop.masters is not None:
            loop.masters.restore()  # fp32 trainable weights again, as loaded
    state = loop.state
    _load_trainable(model, state["best"])
    model.eval()
    result = LoopResult(state["best_score"], state["best_step"], state["step"],
                        state["seconds"], state["stopped_early"], state["history"])
    if config.compile:
        result.compilations = compilations() - compiled_before
        result.compilations_in_loop = compilations() - compiled_warm
    return result


class _Loop:
    """The optimizer, schedule and state of one training run, restored from ``path``
    when an earlier call left a checkpoint there."""

    def __init__(self, torch: Any, model: Any, lengths: list[int], config: TrainConfig,
                 path: Path, low_precision: bool) -> None:
        self.torch, self.model, self.lengths, self.config, self.path = \
            torch, model, lengths, config, path
        self.per_epoch = math.ceil(len(lengths) / config.batch_size)
        self.total = self.per_epoch * config.epochs
        # refit keeps the last weights whatever validation says: score only those
        self.eval_every = config.eval_every or (self.total if config.refit
                                                else self.per_epoch)
        self.state: dict[str, Any] = {
            "step": 0, "best_score": -math.inf, "best_step": 0, "best": _trainable(model),
            "bad": 0, "history": [], "seconds": 0.0, "stopped_early": False,
        }
        saved = _load_checkpoint(torch, path) if path.is_file() else None
        if saved is not None:
            _load_trainable(model, saved.pop("trainable"))
        params = [p for p in model.parameters() if p.requires_grad]
        self.masters = Masters(params) if low_precision else None
        self.grad_params = self.masters.masters if self.masters is not None else params
        self.optimizer = _optimizer(model, config, self.masters)
        self.scheduler = _schedule(self.optimizer, self.total, config.warmup_ratio)
        if saved is not None:
            self.optimizer.load_state_dict(saved.pop("optimizer"))
            self.scheduler.load_state_dict(saved.pop("scheduler"))
            torch.set_rng_state(saved.pop("rng"))
            cuda_rng = saved.pop("cuda_rng", None)
            if cuda_rng is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(cuda_rng)
            self.state.update(saved)
        self.plan: tuple[int, list[list[int]]] = (-1, [])
        self.task = start(None, "training", self.total)
        self.running_loss = math.nan
        self.pending: list[tuple[Any, Any]] = []  # (loss, gradient norm) not yet read

    def batches(self) -> list[list[int]]:
        """The batches of the current epoch (planned once per epoch)."""
        epoch = self.state["step"] // self.per_epoch
        if self.plan[0] != epoch:
            self.plan = (epoch, train_batches(self.lengths, self.config.batch_size,
                                              self.config.seed, epoch))
        return self.plan[1]

    def save(self) -> None:
        torch = self.torch
        blob = {**self.state, "trainable": _trainable(self.model, self.masters),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available()
                else None}
        tmp = self.path.with_suffix(".tmp")
        torch.save(blob, tmp)
        os.replace(tmp, self.path)

    def flush(self) -> None:
        """Read the pending losses and norms in one host sync; check they are finite."""
        if not self.pending:
            return
        torch = self.torch
        values = torch.stack([torch.stack([loss, norm.to(loss.device)])
                              for loss, norm in self.pending])
        rows = values.float().cpu().tolist()  # the one host sync of these steps
        first = self.state["step"] - len(rows) + 1
        for i, (loss, norm) in enumerate(rows):
            _check_finite("training loss", loss, first + i, self.total, self.config)
            _check_finite("gradient norm", norm, first + i, self.total, self.config)
            self.running_loss = loss if math.isnan(self.running_loss) else \
                0.9 * self.running_loss + 0.1 * loss
        self.task(len(rows), loss=self.running_loss)
        self.pending.clear()

    def step(self, step_loss: Callable[[list[int]], Any]) -> None:
        """One optimizer step on the next batch of the plan."""
        loss = step_loss(self.batches()[self.state["step"] % self.per_epoch])
        if loss.requires_grad:  # else step_loss ran the backward itself (chunks)
            loss.backward()
        if self.masters is not None:
            self.masters.grads_up()  # the model's bf16 gradients are dropped here
        self.pending.append((loss.detach(), _grad_norm(self.grad_params)))
        self.optimizer.step()
        self.scheduler.step()
        if self.masters is not None:
            self.masters.weights_down()  # each master gradient is overwritten next step
        else:
            self.optimizer.zero_grad(set_to_none=True)
        self.state["step"] += 1
        if len(self.pending) >= SYNC_EVERY:
            self.flush()

    def validate(self, evaluate: Callable[[], tuple[float, dict[str, float]]]) -> None:
        """Score the current weights; keep them if best; count checks without gain."""
        state = self.state
        self.flush()
        self.model.eval()
        score, figures = evaluate()
        self.model.train()
        _check_finite("validation score", score, state["step"], self.total, self.config)
        state["history"].append({"step": state["step"], "validation": score, **figures})
        self.task(0, **figures)
        if score > state["best_score"] or self.config.refit:  # refit keeps the last
            state.update(best_score=score, best_step=state["step"], bad=0,
                         best=_trainable(self.model, self.masters))
        else:
            state["bad"] += 1
            # a small set's first checks are noisy: do not stop before min_steps
            state["stopped_early"] = (state["bad"] >= self.config.patience
                                      and state["step"] >= self.config.min_steps)

    def train(self, step_loss: Callable[[list[int]], Any],
              evaluate: Callable[[], tuple[float, dict[str, float]]],
              stop_after: int | None) -> None:
        """Steps until the end, early stopping, or ``stop_after`` steps of this call."""
        state, config = self.state, self.config
        started = time.perf_counter() - state["seconds"]
        last_save = time.perf_counter()
        done_this_call = 0
        while state["step"] < self.total and not state["stopped_early"]:
            self.step(step_loss)
            done_this_call += 1
            if state["step"] % self.eval_every == 0 or state["step"] == self.total:
                self.validate(evaluate)
            state["seconds"] = time.perf_counter() - started
            finished = state["step"] == self.total or state["stopped_early"]
            stopping = stop_after is not None and done_this_call >= stop_after
            every = config.checkpoint_every
            if (finished or stopping or state["step"] % self.per_epoch == 0
                    or (every and state["step"] % every == 0)
                    or time.perf_counter() - last_save >= config.checkpoint_minutes * 60):
                self.flush()
                self.save()
                last_save = time.perf_counter()
            if stopping and not finished:
                raise TrainingStopped(
                    f"training stopped after {state['step']} of {self.total} steps as "
                    "asked; run the same command again to resume"
                )
        self.flush()
