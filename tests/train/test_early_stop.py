"""Early stopping waits for ``min_steps`` (set for small training sets by train.sizing), and
the weights kept are still those of the best validation check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from paths import BILLS

from replicoder.models.base import load_sequence_classifier, load_tokenizer, resolve
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, loop
from replicoder.train.sizing import size_defaults

pytestmark = pytest.mark.timeout(600)


def _run(tiny: str, workdir: Path, min_steps: int) -> loop.LoopResult:
    import torch

    base = resolve(tiny)
    config = TrainConfig(base=tiny, epochs=5, batch_size=4, lr=1e-3, eval_every=2,
                         patience=2, min_steps=min_steps)
    torch.manual_seed(0)
    model = config.with_lora(load_sequence_classifier(base, 3, multi_label=False,
                                                      device="cpu"), "SEQ_CLS")
    scorer = ClassifierScorer(model, load_tokenizer(base), False, 32, "cpu", False)
    ids = scorer.encode(pd.read_csv(BILLS).text.head(16).tolist()).windows
    y = torch.arange(16) % 3
    checks = iter(range(100))

    def step_loss(batch: list[int]) -> Any:
        return torch.nn.functional.cross_entropy(scorer.logits([ids[i] for i in batch]),
                                                 y[torch.tensor(batch)])

    def evaluate() -> tuple[float, dict[str, float]]:
        return 1.0 - 0.1 * next(checks), {}  # the first check is the best

    workdir.mkdir(parents=True)
    return loop.run(model, [len(x) for x in ids], step_loss, evaluate, config, workdir)


def test_early_stopping_waits_for_min_steps_and_keeps_the_best_check(tmp_path: Path) -> None:
    tiny = str(build_tiny(tmp_path / "tiny"))
    plain = _run(tiny, tmp_path / "plain", 0)
    assert plain.stopped_early and plain.steps == 6 and plain.best_step == 2
    waited = _run(tiny, tmp_path / "waited", 12)
    assert waited.stopped_early and waited.steps == 12 and waited.best_step == 2
    assert [h["step"] for h in waited.history] == [2, 4, 6, 8, 10, 12]


def test_a_small_set_trains_its_minimum_steps_before_early_stopping() -> None:
    small, notes = size_defaults(TrainConfig(auto_epochs=True), 110)  # an EP fold: 7 a epoch
    assert small.epochs == 12 and small.min_steps == 84
    assert "at least 84 steps before early stopping" in notes[1]
    chosen, _ = size_defaults(TrainConfig(epochs=3), 110)  # --epochs given
    assert chosen.min_steps == 0
    large, _ = size_defaults(TrainConfig(auto_epochs=True), 3235)
    assert large.min_steps == 0
