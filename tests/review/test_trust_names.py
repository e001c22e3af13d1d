"""Issue 25, item 6: one coder-name rule (the review app's, ASCII only) at every entry
point: import-proposals, review assign, review sample --coders, the default login name."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from test_review_store import make_study

from replicoder.errors import ReplicoderError
from replicoder.review import server
from replicoder.review.assignment import parse_coders
from replicoder.review.replay import import_proposals
from replicoder.review.sample import draw_sample

COLUMNS = {"doc_column": "id", "label_column": "label", "annotator_column": "llm",
           "decision_column": "ok", "coder_column": "coder"}


@pytest.mark.parametrize("name", ["b\u0435n", "../../etc", "ann a", "x" * 65])
def test_import_proposals_refuses_names_the_app_refuses(tmp_path: Path, name: str) -> None:
    st = make_study(tmp_path)
    path = tmp_path / "codings.csv"
    path.write_text(f"id,label,llm,ok,coder\nd1,3,gpt,y,anna\nd2,7,gpt,n,{name}\n", "utf-8")
    with pytest.raises(ReplicoderError) as err:
        import_proposals(st, path, **COLUMNS)
    message = str(err.value)
    assert "row 2" in message and "coder name" in message and "ASCII" in message
    with st.store() as store:
        assert store.proposals() == [] and store.decisions("anna") == []


def test_ascii_coder_names_still_import(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    path = tmp_path / "codings.csv"
    path.write_text("id,label,llm,ok,coder\nd1,3,gpt,y,ben_2\n", "utf-8")
    assert import_proposals(st, path, **COLUMNS).decisions_added == 1


@pytest.mark.parametrize("names", ["anna,b\u0435n", "anna,../x"])
def test_coder_lists_use_the_same_rule(tmp_path: Path, names: str) -> None:
    with pytest.raises(ReplicoderError, match="ASCII"):
        parse_coders(names)
    st = make_study(tmp_path)
    with pytest.raises(ReplicoderError, match="ASCII"):
        draw_sample(st, 2, 1, coders=names.split(","))
    with st.store() as store:
        assert store.sample_ids() == []


def test_default_coder_drops_non_ascii_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "b\u0435n")
    assert server.default_coder() == "bn"
