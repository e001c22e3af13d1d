"""The label's only cue sits at the end of a 2,000-token document: a chunked model finds
it, a truncated one cannot (tiny model, trained briefly on synthetic documents)."""

from __future__ import annotations

from pathlib import Path

import pytest
from long_docs import cue_at_end
from test_splits import make_study
from test_train import tiny  # noqa: F401  (fixture)

from replicoder.models import load_trained
from replicoder.models.base import load_tokenizer, resolve
from replicoder.models.length import measure
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(900)


def test_chunk_finds_the_cue_at_the_end_and_truncate_cannot(tmp_path: Path,
                                                            tiny: str) -> None:  # noqa: F811
    docs = cue_at_end(per_topic=20, words=2000)
    lengths = measure(load_tokenizer(resolve(tiny)), docs.text.tolist())
    assert min(lengths) > 2000
    st = make_study(tmp_path / "s", docs)
    test = cue_at_end(per_topic=5, words=2000, seed=1)
    accuracy = {}
    for long in ("truncate", "chunk"):
        train(st, long, TrainConfig(base=tiny, epochs=8, batch_size=8, lr=3e-3, head_lr=1e-2,
                                    max_length=256, long=long, precision="fp32", patience=8))
        pred = load_trained(st, long).predict(test.text.tolist(), test.id.tolist())
        truth = [str(t) for t in test.major_topic]
        accuracy[long] = sum(next(iter(p), "") == t for p, t in
                             zip(pred.labels, truth, strict=True)) / len(truth)
    assert accuracy["chunk"] >= 0.9, accuracy
    assert accuracy["truncate"] <= 0.5, accuracy
