"""Local annotators answer by scoring the codebook: every answer a label, with
probabilities; cached and resumable like any answer; settings validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_annotate_support import bills_study
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.annotate.config import AnnotatorConfig, add_annotator, load_annotators
from replicoder.annotate.planning import plan
from replicoder.annotate.runner import annotate
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.models.tiny import build_tiny


def test_a_local_annotator_scores_labels_by_default(tmp_path: Path) -> None:
    st = bills_study(tmp_path, 3)
    tiny = build_tiny(tmp_path / "tiny")  # plumbing: a random model always gives a label
    add_annotator(st, AnnotatorConfig(name="tiny", model=str(tiny), template="short"))
    st = study_mod.open_study(st.root)
    (cfg,) = load_annotators(st)
    assert cfg.scores and cfg.params()["answer"] == "score"
    (row,) = plan(st)
    assert row.output_tokens == 0 and row.requests == 3
    (first,) = annotate(st).annotators
    assert (first.ok, first.unparsed, first.output_tokens) == (3, 0, 0)
    with st.store() as store:
        props = store.proposals(annotator="tiny")
    for p in props:
        probs = p.provenance["probabilities"]["labels"]
        assert set(probs) == set(st.codebook.codes)
        assert abs(sum(probs.values()) - 1) < 1e-4
        assert p.labels == {max(probs, key=probs.__getitem__)}
        assert p.provenance["params"]["scoring"] == cfg.scoring
    (again,) = annotate(st).annotators
    assert (again.sent, again.cached) == (0, 3)


def test_the_embedded_model_always_answers_with_a_label(tmp_path: Path) -> None:
    st = bills_study(tmp_path, 4)
    add_annotator(st, AnnotatorConfig(name="smol", template="short", threads=1))
    (row,) = annotate(study_mod.open_study(st.root)).annotators
    assert (row.ok, row.unparsed) == (4, 0)


@pytest.mark.parametrize("entry, message", [
    ({"name": "x", "answer": "guess"}, r"annotator 'x': field 'answer' must be one of"),
    ({"name": "x", "backend": "openai", "answer": "score"}, r"needs the local backend"),
    ({"name": "x", "scoring": "code-median"}, r"field 'scoring': scoring 'code-median' is not"),
])
def test_bad_scoring_settings_are_named(cap_study: study_mod.Study, entry: dict[str, str],
                                        message: str) -> None:
    cap_study.config["annotators"] = [entry]
    cap_study.save_config()
    with pytest.raises(ReplicoderError, match=message):
        load_annotators(study_mod.open_study(cap_study.root))


def test_add_annotator_takes_answer_and_scoring(cap_study: study_mod.Study) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["add-annotator", "s", "--scoring", "name-first-cf", "--study",
                              str(cap_study.root)])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["add-annotator", "g", "--answer", "generate", "--study",
                              str(cap_study.root)])
    assert out.exit_code == 0, out.output
    s, g = load_annotators(study_mod.open_study(cap_study.root))
    assert (s.scoring, s.scores, g.scores) == ("name-first-cf", True, False)
    assert "answer" not in g.params()  # generating annotators keep their cache keys
    help_text = runner.invoke(app, ["add-annotator", "--help"], env={"COLUMNS": "200"}).output
    assert "--answer" in help_text and "content-free" in help_text
