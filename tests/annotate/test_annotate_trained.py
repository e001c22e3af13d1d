"""A study's trained generative adapter as a local annotator (``model = "trained:NAME"``):
it scores each label's answer after the prompt it was trained on, so every answer is a
label whose probability is the adapter's own; it can generate instead; bad settings are
named. A tiny random model trained for a few steps: plumbing, not quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from paths import BILLS
from test_splits import make_study

from replicoder import study as study_mod
from replicoder.annotate.config import AnnotatorConfig, add_annotator
from replicoder.annotate.runner import annotate
from replicoder.errors import ReplicoderError
from replicoder.models import load_trained
from replicoder.models.generative import GenerativeScorer
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> study_mod.Study:
    root = tmp_path_factory.mktemp("trained")
    tiny = str(build_tiny(root / "tiny"))
    df = pd.read_csv(BILLS)
    rows = df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(12)
    st = make_study(root / "s", rows)
    config = TrainConfig(base=tiny, mode="generative", epochs=1, batch_size=8, lr=1e-3,
                         precision="fp32")
    train(st, "gen", config)
    train(st, "clf", TrainConfig(base=tiny, epochs=1, batch_size=8, precision="fp32"))
    return study_mod.open_study(st.root)


def whole_scores(model: object, prompt: list[int], answers: list[list[int]]) -> np.ndarray:
    """The summed log-probability of each answer after ``prompt``, one whole pass each."""
    import torch

    out = []
    for a in answers:
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([prompt + a])).logits[0]  # type: ignore[operator]
        lp = torch.log_softmax(logits.float(), -1)
        out.append(sum(float(lp[len(prompt) - 1 + j, t]) for j, t in enumerate(a)))
    return np.array(out)


def test_a_trained_adapter_scores_the_answers_it_learnt(trained: study_mod.Study) -> None:
    st = trained
    add_annotator(st, AnnotatorConfig(name="gen", model="trained:gen"))
    st = study_mod.open_study(st.root)
    (row,) = annotate(st, ["gen"], limit=5).annotators
    assert (row.ok, row.unparsed, row.output_tokens) == (5, 0, 0)
    model = load_trained(st, "gen")
    scorer = model.scorer
    assert isinstance(scorer, GenerativeScorer)
    with st.store() as store:
        props = store.proposals(annotator="gen")
        docs = {d.doc_id: d.text for d in store.documents([p.doc_id for p in props])}
    assert len(props) == 5
    codes = st.codebook.codes
    answers = [scorer.answer_ids(frozenset([c])) for c in codes]  # "3" + end token
    for p in props:
        probs = p.provenance["probabilities"]["labels"]
        assert p.provenance["model_id"].startswith("trained:gen@")
        want = whole_scores(scorer.model, scorer.prompt_ids(docs[p.doc_id]), answers)
        want = np.exp(want - want.max())
        want /= want.sum()
        assert np.allclose([probs[c] for c in codes], want, atol=1e-4)
        assert p.labels == {codes[int(np.argmax(want))]}
    (again,) = annotate(st, ["gen"], limit=5).annotators
    assert (again.sent, again.cached) == (0, 5)


def test_a_trained_adapter_can_generate(trained: study_mod.Study) -> None:
    add_annotator(trained, AnnotatorConfig(name="gen-text", model="trained:gen",
                                           answer="generate", max_tokens=8))
    st = study_mod.open_study(trained.root)
    (row,) = annotate(st, ["gen-text"], limit=3).annotators
    assert row.sent == 3 and row.output_tokens > 0
    with st.store() as store:
        props = store.proposals(annotator="gen-text")
    assert len(props) == 3 and all("probabilities" not in p.raw for p in props)


@pytest.mark.parametrize("entry, message", [
    ({"model": "trained:nope"}, r"annotator 'x': unknown model 'nope'"),
    ({"model": "trained:clf"}, r"model 'clf' is a classifier model"),
    ({"model": "trained:gen", "scoring": "name-sum"}, r"answers with codes"),
    ({"model": "trained:gen", "template": "short"}, r"leave 'template' empty"),
    ({"model": "trained:gen", "backend": "openai"}, r"runs on the local backend"),
])
def test_bad_trained_annotators_are_named(trained: study_mod.Study, entry: dict[str, str],
                                          message: str) -> None:
    trained.config["annotators"] = [{"name": "x", **entry}]
    trained.save_config()
    try:
        with pytest.raises(ReplicoderError, match=message):
            annotate(study_mod.open_study(trained.root), ["x"], limit=1)
    finally:
        trained.config["annotators"] = []
        trained.save_config()


def test_a_trained_adapter_counts_the_documents_it_cuts(trained: study_mod.Study) -> None:
    from replicoder.annotate.jobs import Annotator

    ann = Annotator(trained, AnnotatorConfig(name="gen", model="trained:gen"))
    text = "To amend the tariff schedule on imports of chemicals. " * 60
    long, short = ann.jobs([("long", text), ("short", "A short title")])
    assert long.cut_tokens > 400 and short.cut_tokens == 0
    scorer = load_trained(trained, "gen").scorer
    assert isinstance(scorer, GenerativeScorer)
    # the adapter reads a long document's first max_length tokens, as in training
    assert scorer.prompt_ids(long.messages[-1]["content"]) == scorer.prompt_ids(text)
