"""Training on a graded study, both modes, with the tiny model: values in, values out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from graded_study import graded_study

from replicoder.classify.local import classify
from replicoder.evaluate.compare import evaluate_models
from replicoder.labels.graded import split
from replicoder.models import load_trained
from replicoder.models.decide import decide_graded, label_scores
from replicoder.models.generative import answer, read_answer
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train


def test_decide_graded_keeps_one_intensity_per_label() -> None:
    scores = np.array([[0.2, 0.7, 0.6, 0.1, 0.2, 0.3],   # a: medium wins; b below 0.5
                       [0.9, 0.1, 0.95, 0.1, 0.1, 0.1]])  # a: high (0.95 > 0.9)
    got = decide_graded(scores, ["a", "b"], ["low", "medium", "high"], True)
    assert got == [frozenset({"a:medium"}), frozenset({"a:high"})]
    limits = np.array([0.8, 0.25])
    assert decide_graded(scores, ["a", "b"], ["low", "medium", "high"], True, limits)[0] == \
        frozenset({"b:high"})
    single = decide_graded(scores, ["a", "b"], ["low", "medium", "high"], False)
    assert single == [frozenset({"a:medium"}), frozenset({"a:high"})]


def test_generative_answer_round_trips(tmp_path: Path) -> None:
    st = graded_study(tmp_path / "s", n=4)
    book = st.codebook
    labels = frozenset({"hope:low", "joy:high"})
    assert answer(labels, book) == "joy: high; hope: low"
    assert read_answer("joy: high; hope: low", book) == (labels, True)
    # read like an annotator's answer: label names and levels ignoring case
    assert read_answer("Joy: HIGH", book) == (frozenset({"joy:high"}), True)
    assert read_answer("joy: huge", book) == (frozenset(), False)
    assert read_answer("joy: low; joy: high", book) == (frozenset(), False)
    assert read_answer("none", book) == (frozenset(), True)


def test_presence_of_any_intensity_from_the_value_probabilities() -> None:
    # label a: values 0.5, 0.5, 0 -> odds 1 + 1 + 0 = 2 -> 2/3; label b: 0.2 -> 0.25/1.25
    scores = np.array([[0.5, 0.5, 0.0, 0.2, 0.0, 0.0]])
    np.testing.assert_allclose(label_scores(scores, 2, "any"), [[2 / 3, 0.2]], atol=1e-6)
    np.testing.assert_allclose(label_scores(scores, 2, "max"), [[0.5, 0.2]])
    # two intensities at 0.5 each: absent under "max" at 0.6, present under "any"
    limits = np.array([0.6, 0.6])
    levels = ["low", "medium", "high"]
    assert decide_graded(scores, ["a", "b"], levels, True, limits) == [frozenset()]
    assert decide_graded(scores, ["a", "b"], levels, True, limits, "any") == \
        [frozenset({"a:low"})]  # the tie goes to the first (lower) intensity
    with pytest.raises(ValueError, match="presence"):
        label_scores(scores, 2, "sum")


@pytest.mark.parametrize("mode", ["classifier", "generative"])
def test_train_classify_evaluate_graded(tmp_path: Path, mode: str) -> None:
    st = graded_study(tmp_path / "study", n=60)
    tiny = str(build_tiny(tmp_path / "tiny"))
    train(st, "m", TrainConfig(base=tiny, mode=mode, epochs=1, batch_size=8))
    trained = load_trained(st, "m")
    assert trained.intensities == ["low", "medium", "high"]
    assert trained.presence == ("any" if mode == "classifier" else "max")
    pred = trained.predict(["doc: happy bills", "today"], ["x", "y"])
    assert pred.scores is not None and pred.scores.shape == (2, 9)
    for labels in pred.labels:
        codes = [split(v)[0] for v in labels]
        assert len(codes) == len(set(codes))
        assert all(v in st.codebook.values for v in labels)
    out = classify(st, "m", tmp_path / "out.parquet").out
    frame = pd.read_parquet(out)
    values = {v for cell in frame["labels"] for v in str(cell or "").split(";") if v}
    assert values <= set(st.codebook.values)
    assert "score_joy:high" in frame.columns
    result = evaluate_models(st, ["m"], baseline=None, n_boot=20, train_rows=False)
    m = result["models"]["m"]["parts"]["test"]
    assert 0.0 <= m["intensity_accuracy"] <= m["label_accuracy"] + 1e-12 <= 1.0 + 1e-12


def test_zero_shot_on_a_graded_study(tmp_path: Path) -> None:
    """The untrained base prompted with the graded codebook: the instruction asks for the
    scale, answers are read as values, and evaluate gives the graded metrics."""
    from replicoder.models import zero_shot

    st = graded_study(tmp_path / "study", n=30)
    tiny = str(build_tiny(tmp_path / "tiny"))
    scorer = zero_shot(st, tiny, max_length=32)
    assert "lowest first: low, medium, high" in scorer.instruction  # annotate's template
    assert "joy: " in scorer.instruction
    sets, scores, raw = scorer.predict(["doc: happy", "today"])
    assert scores.shape == (2, 9) and len(raw) == 2
    assert all(v in st.codebook.values for s in sets for v in s)
    result = evaluate_models(st, [f"zero-shot:{tiny}"], baseline=None, n_boot=20,
                             train_rows=False)
    m = result["models"][f"zero-shot:{tiny}"]["parts"]["test"]
    assert {"label_accuracy", "intensity_accuracy", "fp_rate", "jaccard"} <= set(m)
    assert result["intensities"] == ["low", "medium", "high"]
