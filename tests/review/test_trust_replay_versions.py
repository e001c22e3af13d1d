"""Issue 25, item 13: a second import-proposals file never orphans a coder's decision."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_review_store import make_study

from replicoder.errors import ReplicoderError
from replicoder.review import session
from replicoder.review.replay import import_proposals

BASE = {"doc_column": "id", "label_column": "label", "annotator_column": "llm"}
DECIDED = {**BASE, "decision_column": "ok", "coder_column": "coder"}


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_changed_proposals_under_a_decision_are_refused(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    first = _file(tmp_path, "a.csv", "id,label,llm,ok,coder\nd1,3,gpt,y,anna\nd2,7,gpt,y,anna\n")
    import_proposals(st, first, **DECIDED)
    second = _file(tmp_path, "b.csv", "id,label,llm\nd1,12,gpt\nd3,4,gpt\n")
    with pytest.raises(ReplicoderError) as err:
        import_proposals(st, second, **BASE)
    message = str(err.value)
    assert "document 'd1' (annotator 'gpt', coder 'anna')" in message
    assert "another annotator name" in message and "Nothing was imported" in message
    with st.store() as store:
        assert [p.labels for p in store.proposals(["d1", "d3"])] == [{"3"}]
        decision = store.decision("d1", "anna")
        assert decision is not None and decision.proposed == {"3": ["gpt"]}
    # the same file again, or the new labels under a new annotator name, are fine
    import_proposals(st, first, **DECIDED)
    renamed = _file(tmp_path, "c.csv", "id,label,llm\nd1,12,gpt-v2\nd3,4,gpt\n")
    assert import_proposals(st, renamed, **BASE).proposals == 2
    # a file that brings the coder's decision on the new proposals replaces both together
    redo = _file(tmp_path, "d.csv", "id,label,llm,ok,coder\nd1,12,gpt,y,anna\n")
    assert import_proposals(st, redo, **DECIDED).decisions_added == 1
    with st.store() as store:
        decision = store.decision("d1", "anna")
        assert decision is not None and decision.proposed == {"12": ["gpt"]}


def test_decisions_made_in_the_app_are_protected_too(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    import_proposals(st, _file(tmp_path, "a.csv", "id,label,llm\nd1,3,gpt\nd2,7,gpt\n"), **BASE)
    with st.store() as store:
        session.decide(store, st.codebook, "ben", "d1", [], [], False, 1.0)
    with pytest.raises(ReplicoderError, match="document 'd1' .*coder 'ben'"):
        import_proposals(st, _file(tmp_path, "b.csv", "id,label,llm\nd1,5,gpt\n"), **BASE)
    # d2 is undecided: its proposals may be replaced
    import_proposals(st, _file(tmp_path, "c.csv", "id,label,llm\nd2,5,gpt\n"), **BASE)
    with st.store() as store:
        assert store.proposals(["d2"])[0].labels == {"5"}
