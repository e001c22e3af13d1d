"""Recipe settings: bf16 base weights on the CPU and label smoothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from paths import BILLS
from test_splits import make_study
from test_train import quick, tiny  # noqa: F401  (fixture)

from replicoder.errors import ReplicoderError
from replicoder.models.base import load_sequence_classifier, resolve
from replicoder.models.runtime import train_dtype
from replicoder.train import TrainConfig, train
from replicoder.train.classifier import new_model

pytestmark = pytest.mark.timeout(300)


def test_base_dtype_decides_the_frozen_weights() -> None:
    assert train_dtype("cpu", True) is None  # fp32 + autocast on the CPU by default
    assert train_dtype("cpu", True, "bf16") is torch.bfloat16
    assert train_dtype("cpu", False, "bf16") is None  # fp32 precision wins
    assert train_dtype("cuda", True, "fp32") is None
    with pytest.raises(ReplicoderError, match="base dtype 'half'"):
        train_dtype("cpu", True, "half")


def test_bad_recipe_values_are_refused() -> None:
    with pytest.raises(ReplicoderError, match="base_dtype 'fp16'"):
        TrainConfig(base_dtype="fp16")
    with pytest.raises(ReplicoderError, match="label_smoothing must be in"):
        TrainConfig(label_smoothing=1.0)


def test_bf16_base_keeps_trainable_weights_fp32(tiny: str) -> None:  # noqa: F811
    config = TrainConfig(base=tiny, base_dtype="bf16")
    model = new_model(resolve(tiny), 4, False, config, "cpu", bf16=True)
    frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
    trainable = {p.dtype for p in model.parameters() if p.requires_grad}
    assert frozen == {torch.bfloat16} and trainable == {torch.float32}
    plain = load_sequence_classifier(resolve(tiny), 4, multi_label=False, device="cpu")
    assert {p.dtype for p in plain.parameters()} == {torch.float32}


def test_trains_with_bf16_base_and_label_smoothing(tmp_path: Path, tiny: str) -> None:  # noqa: F811
    df = pd.read_csv(BILLS)
    rows = df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(20)
    st = make_study(tmp_path / "s", rows)
    result = train(st, "r", quick(tiny, epochs=1, base_dtype="bf16", label_smoothing=0.1,
                                  precision="bf16"))
    assert result.manifest["config"]["label_smoothing"] == 0.1
    assert 0.0 <= result.metrics["subset_accuracy"] <= 1.0 and result.metrics["steps"] == 7
