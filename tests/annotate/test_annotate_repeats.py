"""annotate --repeats: repeats stored as NAME~r, stability within and between prompts."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_annotate_support import bills_study
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.annotate.agreement import agreement_table
from replicoder.annotate.config import AnnotatorConfig, add_annotator
from replicoder.annotate.repeats import base_name
from replicoder.annotate.runner import annotate
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.evaluate.crowd import majority
from replicoder.models.tiny import build_tiny


def test_repeats_give_stability_within_and_between_prompts(tmp_path: Path) -> None:
    st = bills_study(tmp_path, 8)
    tiny = str(build_tiny(tmp_path / "tiny"))  # plumbing: random scores, sampled at T=1
    add_annotator(st, AnnotatorConfig(name="short", model=tiny, template="short"))
    add_annotator(st, AnnotatorConfig(name="full", model=tiny))
    st = study_mod.open_study(st.root)
    summary = annotate(st, repeats=3, temperature=1.0)
    names = [a.name for a in summary.annotators]
    assert names == ["short", "short~2", "short~3", "full", "full~2", "full~3"]
    with st.store() as store:
        props = store.proposals()
    assert len(props) == 6 * 8 and all(p.status == "ok" for p in props)
    seeds = {p.annotator: p.provenance["params"]["seed"] for p in props}
    assert (seeds["short"], seeds["short~3"]) == (0, 2)
    labels = {p.annotator: [q.labels for q in props if q.annotator == p.annotator]
              for p in props}
    assert labels["short"] != labels["short~2"]  # sampled: the repeats differ
    table = agreement_table(st, ["short", "full"], n_boot=50)
    within = {r["annotator"]: r for r in table["stability"]["within"]}
    assert set(within) == {"short", "full"} and within["short"]["repeats"] == 3
    assert within["short"]["n"] == 8 and len(within["short"]["ci"]) == 2
    (between,) = table["stability"]["between"]
    assert between["annotators"] == ["full", "short"]
    votes = majority(props, ["short", "short~2", "short~3"])  # repeats as voters
    assert set(votes) == {p.doc_id for p in props}
    assert base_name("short~3") == "short" and base_name("a~b") == "a~b"
    again = annotate(st, repeats=3, temperature=1.0)
    assert sum(a.sent for a in again.annotators) == 0  # each repeat cached
    out = CliRunner().invoke(app, ["agreement", "-a", "short", "-a", "full", "--study",
                                   str(st.root)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "Stability" in out.output and "short ×3" in out.output


def test_bad_repeats_are_named(tmp_path: Path) -> None:
    st = bills_study(tmp_path, 2)
    add_annotator(st, AnnotatorConfig(name="x", answer="generate"))
    st = study_mod.open_study(st.root)
    with pytest.raises(ReplicoderError, match="--repeats must be at least 1"):
        annotate(st, repeats=0)
    with pytest.raises(ReplicoderError, match="--temperature must be between 0 and 2"):
        annotate(st, repeats=2, temperature=3.0)
    out = CliRunner().invoke(app, ["annotate", "--help"], env={"COLUMNS": "200"})
    assert "--repeats" in out.output and "--temperature" in out.output
