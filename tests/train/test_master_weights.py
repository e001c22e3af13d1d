"""bf16 working weights with fp32 masters (train.master) train to exactly the weights
fp32 adapters under autocast give, with far fewer casts per step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from paths import BILLS

from replicoder.models.base import load_sequence_classifier, load_tokenizer, resolve
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.fastpath import skip_input_casts
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, loop

pytestmark = pytest.mark.timeout(900)


def _run(tiny: str, tmp_path: Path, low_precision: bool, stop_after: int | None = None
         ) -> tuple[dict[str, Any], Any]:
    import torch

    base = resolve(tiny)
    tok = load_tokenizer(base)
    config = TrainConfig(base=tiny, epochs=2, batch_size=4, lr=1e-3, head_lr=1e-3)
    torch.manual_seed(0)
    body = load_sequence_classifier(base, 3, multi_label=False, device="cpu",
                                    dtype=torch.bfloat16)
    model = config.with_lora(body, "SEQ_CLS")
    skip_input_casts(model)
    scorer = ClassifierScorer(model, tok, False, 32, "cpu", True)
    enc = scorer.encode(pd.read_csv(BILLS).text.head(16).tolist())
    ids = enc.windows
    y = torch.arange(16) % 3

    def step_loss(batch: list[int]) -> Any:
        return torch.nn.functional.cross_entropy(scorer.logits([ids[i] for i in batch]),
                                                 y[torch.tensor(batch)])

    def evaluate() -> tuple[float, dict[str, float]]:
        return float(scorer.scores_of(enc.head(4))[:, 0].sum()), {}

    tmp_path.mkdir(parents=True, exist_ok=True)
    result = loop.run(model, [len(x) for x in ids], step_loss, evaluate, config, tmp_path,
                      low_precision=low_precision, stop_after=stop_after)
    weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return weights, result


def test_masters_give_the_weights_of_autocast_bit_for_bit(tmp_path: Path) -> None:
    import torch

    tiny = str(build_tiny(tmp_path / "tiny"))
    plain, a = _run(tiny, tmp_path / "plain", False)
    master, b = _run(tiny, tmp_path / "master", True)
    assert a.steps == b.steps == 8 and a.history == b.history
    assert plain.keys() == master.keys()
    for name, value in plain.items():
        assert master[name].dtype == torch.float32  # restored after training
        assert torch.equal(value, master[name]), name
    # stopped and resumed from a checkpoint: the same weights again
    with pytest.raises(loop.TrainingStopped):
        _run(tiny, tmp_path / "resumed", True, stop_after=3)
    resumed, _ = _run(tiny, tmp_path / "resumed", True)
    for name, value in plain.items():
        assert torch.equal(value, resumed[name]), name
