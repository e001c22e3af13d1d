"""The GPU path's correctness on CPU: right-padded answer loss equals the full-sequence
loss, a non-finite loss or validation score stops training with a clear error, the cuDNN
attention guard, and the 4-bit option's CPU error."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from replicoder.errors import ReplicoderError
from replicoder.models.base import load_causal_lm, load_tokenizer, resolve
from replicoder.models.runtime import guard_attention
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, loop
from replicoder.train.generative import answer_loss

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("tiny") / "model"))


def _items(tok: object) -> list[tuple[list[int], list[int]]]:
    items = []
    for prompt, ans in [("a short one", "3"), ("a much longer prompt than the others here", "12"),
                        ("mid length text", "3; 20")]:
        p = tok(prompt, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
        a = tok(ans, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
        items.append((p + a, [-100] * len(p) + a))
    return items


def test_right_padded_answer_loss_equals_the_full_sequence_loss(tiny: str) -> None:
    import torch
    import torch.nn.functional as F

    base = resolve(tiny)
    tok = load_tokenizer(base)
    model = load_causal_lm(base, device="cpu").eval()
    items = _items(tok)
    total, count = 0.0, 0
    with torch.inference_mode():
        for ids, lab in items:  # one sequence at a time: no padding at all
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            target = torch.tensor(lab[1:])
            total += float(F.cross_entropy(logits[:-1], target, ignore_index=-100,
                                           reduction="sum"))
            count += int((target != -100).sum())
        batched = float(answer_loss(model, items, tok.pad_token_id, "cpu", False))
    assert math.isfinite(batched)
    assert batched == pytest.approx(total / count, rel=1e-5, abs=1e-5)


def _tiny_classifier_run(tiny: str, tmp_path: Path, *, lr: float = 1e-3,
                         evaluate_nan: bool = False) -> loop.LoopResult:
    import torch

    from replicoder.train.classifier import new_model

    config = TrainConfig(base=tiny, epochs=1, batch_size=4, lr=lr, head_lr=lr)
    model = new_model(resolve(tiny), 3, False, config, "cpu")
    ids = torch.randint(5, 200, (16, 6))
    y = torch.arange(16) % 3

    def step_loss(batch: list[int]) -> torch.Tensor:
        out = model(input_ids=ids[batch], attention_mask=torch.ones_like(ids[batch]))
        return torch.nn.functional.cross_entropy(out.logits.float(), y[batch])

    def evaluate() -> tuple[float, dict[str, float]]:
        score = math.nan if evaluate_nan else 0.5
        return score, {"val_accuracy": score}

    return loop.run(model, [6] * 16, step_loss, evaluate, config, tmp_path)


def test_a_non_finite_validation_score_stops_training(tiny: str, tmp_path: Path) -> None:
    # Before: `NaN > best` was False, and the untrained adapter was silently restored.
    with pytest.raises(ReplicoderError, match="validation score is not finite"):
        _tiny_classifier_run(tiny, tmp_path, evaluate_nan=True)


def test_a_diverging_loss_stops_training(tiny: str, tmp_path: Path) -> None:
    with pytest.raises(ReplicoderError, match="not finite.*lower --lr"):
        _tiny_classifier_run(tiny, tmp_path, lr=1e30)


def test_a_finite_run_keeps_its_weights(tiny: str, tmp_path: Path) -> None:
    result = _tiny_classifier_run(tiny, tmp_path)
    assert result.steps == 4 and result.best_score == 0.5


def test_cudnn_attention_is_switched_off_by_the_guard() -> None:
    import torch

    before = torch.backends.cuda.cudnn_sdp_enabled()
    try:
        guard_attention("cpu")
        assert torch.backends.cuda.cudnn_sdp_enabled() == before
        guard_attention("cuda")
        assert not torch.backends.cuda.cudnn_sdp_enabled()
    finally:
        torch.backends.cuda.enable_cudnn_sdp(before)


def test_quantize_4bit_needs_a_gpu(tmp_path: Path, tiny: str) -> None:
    import pandas as pd
    from paths import BILLS
    from test_splits import make_study

    from replicoder.train import train

    with pytest.raises(ReplicoderError, match="unknown|quantize '8bit'"):
        TrainConfig(quantize="8bit")
    st = make_study(tmp_path / "s", pd.read_csv(BILLS).head(20))
    with pytest.raises(ReplicoderError, match="--quantize 4bit needs a CUDA GPU"):
        train(st, "q", TrainConfig(base=tiny, quantize="4bit", device="cpu"))
