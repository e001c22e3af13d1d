"""Length-aware training with the tiny model: auto max length measured and saved, the
choice printed, chunked documents trained at the document level with bounded memory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from long_docs import long_bills
from test_splits import make_study
from test_train import quick, rows, tiny  # noqa: F401  (fixtures)
from typer.testing import CliRunner

from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.models import load_trained
from replicoder.models.base import load_tokenizer, resolve
from replicoder.models.chunks import pooled_loss
from replicoder.models.classifier import ClassifierScorer
from replicoder.models.length import measure
from replicoder.train import TrainConfig, train
from replicoder.train.classifier import new_model

pytestmark = pytest.mark.timeout(600)


def test_auto_length_is_measured_saved_and_used(tmp_path: Path, tiny: str,  # noqa: F811
                                                rows: pd.DataFrame) -> None:  # noqa: F811
    titles = make_study(tmp_path / "titles", rows)
    short = train(titles, "short", quick(tiny, epochs=1))
    assert short.lengths["max_length"] == 64 and short.lengths["auto"]  # titles: as before
    assert short.lengths["longer"] == 0
    st = make_study(tmp_path / "long", long_bills(per_topic=10, titles=8))
    result = train(st, "auto", quick(tiny, epochs=1, length_cap=96))
    lengths = result.lengths
    folder = st.models_dir / "auto"
    saved = json.loads((folder / "config.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert saved["max_length"] == lengths["max_length"] == 96  # capped
    assert manifest["lengths"] == lengths == json.loads(
        (folder / "metrics.json").read_text())["lengths"]
    texts = [t for t in long_bills(per_topic=10, titles=8).text]
    assert lengths["longer"] > 0 and lengths["documents"] == manifest["data"]["n_train"]
    assert max(measure(load_tokenizer(resolve(tiny)), texts)) == pytest.approx(
        lengths["longest"], abs=200)
    model = load_trained(st, "auto")
    assert model.max_length == 96
    pred = model.predict(texts[:3], ["a", "b", "c"])
    assert pred.provenance is not None and pred.provenance["cut"] == [True] * 3


def test_cli_prints_the_length_choice_and_refuses_bad_values(
        tmp_path: Path, tiny: str) -> None:  # noqa: F811
    st = make_study(tmp_path / "s", long_bills(per_topic=10, titles=4))
    res = CliRunner().invoke(app, ["train", "c", "--base", tiny, "--epochs", "1",
                                   "--max-length", "24", "--study", str(st.root)],
                             env={"COLUMNS": "300"})
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "max length 24 (as given)" in out and "are longer and are cut" in out
    bad = CliRunner().invoke(app, ["train", "d", "--base", tiny, "--max-length", "lots",
                                   "--study", str(st.root)])
    assert isinstance(bad.exception, ReplicoderError)
    assert "give 'auto' or a number of tokens" in str(bad.exception)
    with pytest.raises(ReplicoderError, match="long 'chunk' applies to the classifier"):
        TrainConfig(mode="generative", long="chunk")
    with pytest.raises(ReplicoderError, match="long 'all'"):
        TrainConfig(long="all")


def test_two_pass_gradient_equals_the_one_pass_gradient(tiny: str) -> None:  # noqa: F811
    config = TrainConfig(base=tiny, max_length=16, long="chunk")
    model = new_model(resolve(tiny), 4, False, config, "cpu")
    tok = load_tokenizer(resolve(tiny))
    tok.padding_side = "right"
    scorer = ClassifierScorer(model, tok, False, 16, "cpu", False, long="chunk")
    texts = long_bills(per_topic=1, titles=3).text.tolist()[:3]
    enc = scorer.encode(texts)
    assert len(enc.windows) > 6
    target = torch.tensor([0, 1, 2])

    def grads(micro: int) -> tuple[float, list[torch.Tensor]]:
        model.zero_grad()
        loss = pooled_loss(torch, scorer.logits, enc.windows, enc.owner, 3,
                           lambda x: torch.nn.functional.cross_entropy(x, target), micro)
        if loss.requires_grad:
            loss.backward()
        return float(loss.detach()), [p.grad.clone() for p in model.parameters() if p.requires_grad]

    model.train()
    whole, g1 = grads(10_000)
    parts, g2 = grads(3)  # windows in micro-batches of 3: two passes
    assert parts == pytest.approx(whole, rel=1e-5)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_chunk_model_trains_and_answers_the_same_alone_or_in_a_batch(
        tmp_path: Path, tiny: str) -> None:  # noqa: F811
    st = make_study(tmp_path / "s", long_bills(per_topic=10, titles=6))
    result = train(st, "ch", quick(tiny, epochs=1, batch_size=4, max_length=32, long="chunk",
                                   precision="fp32"))
    assert result.lengths["long"] == "chunk" and result.lengths["longer"] > 0
    model = load_trained(st, "ch")
    texts = long_bills(per_topic=2, titles=6, seed=1).text.tolist()
    ids = [str(i) for i in range(len(texts))]
    batch = model.predict(texts, ids, batch_size=5)
    assert batch.provenance is not None and not any(batch.provenance["cut"])
    assert batch.scores is not None
    for i in (0, 5):
        alone = model.predict([texts[i]], [ids[i]])
        assert alone.labels == [batch.labels[i]]
        assert alone.scores is not None
        np.testing.assert_allclose(alone.scores[0], batch.scores[i], atol=1e-5)
