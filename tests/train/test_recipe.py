"""Recipe settings: bf16 base weights on the CPU, label smoothing, the input template,
adapters on the top layers only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from paths import BILLS
from test_splits import make_study
from test_train import quick, tiny  # noqa: F401  (fixture)

from replicoder.errors import ReplicoderError
from replicoder.models import load_trained
from replicoder.models.base import load_sequence_classifier, load_tokenizer, resolve
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.runtime import train_dtype
from replicoder.train import TrainConfig, train
from replicoder.train.classifier import new_model
from replicoder.train.config import CUE
from replicoder.train.lengths import choose_template

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
    with pytest.raises(ReplicoderError, match="label_smoothing applies to the classifier"):
        TrainConfig(mode="generative", label_smoothing=0.1)


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


def adapted_layers(model: torch.nn.Module) -> set[str]:
    """Indices of the transformer layers that hold LoRA weights."""
    return {n.split(".layers.")[1].split(".")[0]
            for n, _ in model.named_parameters() if "lora_" in n and ".layers." in n}


def test_lora_layers_adapts_only_the_top_layers(tiny: str) -> None:  # noqa: F811
    model = new_model(resolve(tiny), 4, False, TrainConfig(base=tiny, lora_layers=1), "cpu")
    assert adapted_layers(model) == {"1"}  # the tiny model has layers 0 and 1
    assert not any(p.requires_grad for n, p in model.named_parameters() if ".layers.0." in n)
    every = new_model(resolve(tiny), 4, False, TrainConfig(base=tiny), "cpu")
    assert adapted_layers(every) == {"0", "1"}
    with pytest.raises(ReplicoderError, match="lora_layers 3: llama has 2 layers"):
        new_model(resolve(tiny), 4, False, TrainConfig(base=tiny, lora_layers=3), "cpu")
    with pytest.raises(ReplicoderError, match="lora_layers must be 0"):
        TrainConfig(lora_layers=-1)


def test_top_layer_adapters_train_save_and_load(tmp_path: Path, tiny: str) -> None:  # noqa: F811
    df = pd.read_csv(BILLS)
    rows = df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(20)
    st = make_study(tmp_path / "s", rows)
    with pytest.raises(ReplicoderError, match="lora_layers 3: llama has 2 layers"):
        train(st, "top", quick(tiny, epochs=1, lora_layers=3))
    # that failure came before any step: the corrected settings are not refused as "other"
    result = train(st, "top", quick(tiny, epochs=1, lora_layers=1))
    assert result.manifest["config"]["lora_layers"] == 1
    model = load_trained(st, "top")
    assert adapted_layers(model.scorer.model) == {"1"}
    assert len(model.predict(rows.text.tolist()[:6], [str(i) for i in range(6)]).labels) == 6


def test_template_cuts_the_text_never_the_cue(tiny: str) -> None:  # noqa: F811
    tok = load_tokenizer(resolve(tiny))
    long_text = "To amend the tariff schedule on imports of chemicals " * 10
    plain = ClassifierScorer(None, tok, False, 16, "cpu", False)
    cued = ClassifierScorer(None, tok, False, 16, "cpu", False, "Bill: {text}\nTopic:")
    cue = tok("\nTopic:", add_special_tokens=False)["input_ids"]
    assert plain.encode([long_text]).windows == [tok(long_text, truncation=True,
                                            max_length=16)["input_ids"]]
    (ids,) = cued.encode([long_text]).windows
    assert len(ids) == 16 and ids[-len(cue):] == cue
    (short,) = cued.encode(["Tariffs."]).windows
    assert tok.decode(short).endswith("Tariffs.\nTopic:")


def test_bad_templates_are_refused() -> None:
    for bad in ("no place for the text", "{text} and {text}"):
        with pytest.raises(ReplicoderError, match="exactly once"):
            TrainConfig(template=bad)
    with pytest.raises(ReplicoderError, match="mode 'classifier'"):
        TrainConfig(mode="generative", template="{text}\nTopic:")


def test_the_default_template_is_decided_by_the_training_documents() -> None:
    assert TrainConfig().template == "auto"  # decided when train() has measured them
    assert TrainConfig(mode="generative").template == "{text}"  # it writes its own prompt
    assert TrainConfig(template="{text}").template == "{text}"  # a choice is kept
    assert choose_template(3235, 18)[0] == "{text}"  # the bills: level without, and faster
    assert choose_template(700, 18)[0] == CUE  # the demo's titles: 0.700 -> 0.760 with it
    assert choose_template(3235, 213)[0] == CUE  # long documents: the cue costs under 5%
    assert choose_template(109, 213)[0] == CUE  # an EP fold: 0.262 -> 0.523


def test_template_auto_is_saved_as_chosen(tmp_path: Path, tiny: str) -> None:  # noqa: F811
    df = pd.read_csv(BILLS)
    st = make_study(tmp_path / "s", df[df.major_topic.isin([3, 12])].groupby(
        "major_topic").head(12))
    result = train(st, "t", quick(tiny, epochs=1))
    assert result.manifest["config"]["template"] == result.manifest["prompt"] == CUE
    assert any(n.startswith("template auto: '{text}\\nLabel:'") for n in result.notes)
    assert TrainConfig.load(st.models_dir / "t" / "config.json").template == CUE


def test_trained_model_keeps_its_template(tmp_path: Path, tiny: str) -> None:  # noqa: F811
    df = pd.read_csv(BILLS)
    rows = df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(20)
    st = make_study(tmp_path / "s", rows)
    result = train(st, "t", quick(tiny, epochs=1, template="{text}\nTopic:"))
    assert result.manifest["prompt"] == "{text}\nTopic:"
    model = load_trained(st, "t")
    assert isinstance(model.scorer, ClassifierScorer)
    assert model.scorer.template == "{text}\nTopic:"
    texts = list(rows.text[:8])
    cued = model.scorer.scores(texts)
    model.scorer.template = "{text}"
    assert not np.allclose(cued, model.scorer.scores(texts))


def test_cli_template_and_base_dtype(
        tmp_path: Path, tiny: str) -> None:  # noqa: F811
    import json
    import subprocess
    import sys

    df = pd.read_csv(BILLS)
    st = make_study(tmp_path / "s", df[df.major_topic.isin([3, 12])].groupby(
        "major_topic").head(12))
    bad = subprocess.run([sys.executable, "-m", "replicoder.cli", "train", "x", "--base", tiny,
                          "--template", "Topic:", "--study", str(st.root)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "must contain {text} exactly once" in bad.stderr
    dtype = subprocess.run([sys.executable, "-m", "replicoder.cli", "train", "z", "--base",
                            tiny, "--base-dtype", "fp16", "--study", str(st.root)],
                           capture_output=True, text=True, timeout=120)
    assert dtype.returncode == 2 and "Traceback" not in dtype.stderr
    assert "base_dtype 'fp16'" in dtype.stderr
    ok = subprocess.run([sys.executable, "-m", "replicoder.cli", "train", "y", "--base", tiny,
                         "--epochs", "1", "--template", r"{text}\nTopic:", "--base-dtype",
                         "bf16", "--lora-layers", "1", "--label-smoothing", "0.1",
                         "--study", str(st.root)],
                        capture_output=True, text=True, timeout=240)
    assert ok.returncode == 0, ok.stderr
    settings = json.loads((st.models_dir / "y" / "config.json").read_text("utf-8"))
    assert settings["template"] == "{text}\nTopic:" and settings["base_dtype"] == "bf16"
    assert settings["lora_layers"] == 1 and settings["label_smoothing"] == 0.1
