"""Label scoring: branch log-probabilities equal whole-sequence ones, every answer is a
label with a probability per label (tiny random model: plumbing; the embedded model's
accuracy is measured in bench/bench_label_scoring.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from graded_study import graded_study

from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import load
from replicoder.labels.prompts import load_template
from replicoder.models.base import load_causal_lm, load_tokenizer, resolve
from replicoder.models.branches import Stems
from replicoder.models.label_scores import LabelScorer, Variant
from replicoder.models.tiny import build_tiny


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    folder = build_tiny(tmp_path_factory.mktemp("tiny"))
    base = resolve(str(folder))
    return load_causal_lm(base, device="cpu").eval(), load_tokenizer(base)


def whole(model: object, ids: list[int]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0]  # type: ignore[operator]
    return torch.log_softmax(logits.float(), -1).numpy()


def test_packed_branches_score_as_whole_sequences(tiny: tuple[object, object]) -> None:
    model, _ = tiny
    prefix = list(range(100, 130))
    stems = [prefix + [7, 8, 9], prefix + [11], prefix + [12, 13, 14, 15]]
    branches = [[5], [6, 7, 8], [9, 10]]
    runner = Stems(model, stems)
    assert runner.head == 30
    found = runner.score(stems, [branches] * 3, next_ids=[3, 4])
    for stem, scores in zip(stems, found, strict=True):
        for b, got, nxt in zip(branches, scores.tokens, scores.next, strict=True):
            lp = whole(model, stem + b)
            want = [lp[len(stem) - 1 + j, t] for j, t in enumerate(b)]
            assert np.allclose(got, want, atol=1e-4)
            assert np.allclose(nxt, lp[len(stem) + len(b) - 1, [3, 4]], atol=1e-4)
    # one stem at a time, its cache copied per branch (sliding-window models), agrees
    opened = runner.open(stems[2])
    logp, rows = opened._repeated([b[:-1] for b in branches], final=False)
    again = opened.score(branches)
    assert np.allclose(np.concatenate(again.tokens), np.concatenate(found[2].tokens),
                       atol=1e-4)
    assert logp.shape[0] == len(branches) * max(len(r) for r in rows)
    # a stem that does not start with the shared prefix is scored whole
    other = [1, 2, 3, 4]
    (alone,) = runner.score([other], [branches])
    lp = whole(model, other + branches[1])
    assert np.allclose(alone.tokens[1], [lp[3 + j, t] for j, t in enumerate(branches[1])],
                       atol=1e-4)


def test_every_answer_is_a_label_with_probabilities(tiny: tuple[object, object]) -> None:
    model, tok = tiny
    book = load("cap")
    template = load_template("short", Path("."))
    prompts = [template.render(book, t) for t in ("Farm credit", "Veterans health care",
                                                  "A bill on school lunches")]
    for spec in ("code-sum", "name-first", "code-mean-cf", "name-sum"):
        scorer = LabelScorer(model, tok, book, Variant.parse(spec), json_answers=True)
        found = scorer.score(prompts, template.render(book, ""))
        for s in found:
            assert len(s.labels) == 1 and next(iter(s.labels)) in book.codes
            assert abs(sum(s.probabilities.values()) - 1) < 1e-5
            assert max(s.probabilities, key=s.probabilities.__getitem__) in s.labels
        assert scorer.matrix(found).shape == (3, len(book.codes))


def test_graded_multi_label_is_presence_then_intensity(tmp_path: Path,
                                                       tiny: tuple[object, object]) -> None:
    model, tok = tiny
    book = graded_study(tmp_path / "study", n=6).codebook
    assert book.multi_label and book.graded
    template = load_template("", Path("."))
    scorer = LabelScorer(model, tok, book, Variant(), json_answers=True)
    found = scorer.score([template.render(book, t) for t in ("so happy", "sad day")])
    for s in found:
        assert set(s.probabilities) == set(book.codes)
        assert all(v in book.values for v in s.labels)
        assert set(s.intensities) == {v.split(":")[0] for v in s.labels}
        assert all(0 <= p <= 1 for p in s.probabilities.values())
    matrix = scorer.matrix(found)
    assert matrix.shape == (2, len(book.values)) and (matrix >= 0).all()


def test_a_bad_variant_is_named() -> None:
    assert Variant.parse("name-first-cf") == Variant("name", "first", True)
    assert Variant.parse("code-sum").spec == "code-sum"
    with pytest.raises(ReplicoderError, match="'code-median' is not a scoring variant"):
        Variant.parse("code-median")
    assert len(Variant.all()) == 12
