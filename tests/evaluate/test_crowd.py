"""Union and majority vote of the crowd's proposals."""

from __future__ import annotations

from pathlib import Path

from replicoder import study as study_mod
from replicoder.evaluate.crowd import majority, majority_predictions, union
from replicoder.store import Proposal


def prop(doc: str, annotator: str, labels: str, status: str = "ok") -> Proposal:
    return Proposal(doc, annotator, frozenset(c for c in labels.split(";") if c), status,
                    "raw", {}, "2026-11-25T00:00:00")


PROPOSALS = [
    prop("d1", "a", "1;2"), prop("d1", "b", "1"), prop("d1", "c", "1;3"),
    prop("d2", "a", "4"), prop("d2", "b", "5"), prop("d2", "c", "", "unparsed"),
    prop("d3", "a", ""), prop("d3", "b", ""),
    prop("d4", "a", "", "unparsed"),
    prop("d5", "a", "7"), prop("d5", "b", "8"), prop("d5", "c", "9"),
]


def test_union_lists_who_proposed_each_label() -> None:
    u = union(PROPOSALS)
    assert u["d1"] == {"1": ["a", "b", "c"], "2": ["a"], "3": ["c"]}
    assert u["d2"] == {"4": ["a"], "5": ["b"]}
    assert u["d3"] == {} and "d4" not in u
    assert union(PROPOSALS, ["b"])["d1"] == {"1": ["b"]}


def test_majority_counts_only_annotators_that_answered() -> None:
    m = majority(PROPOSALS)
    assert m["d1"] == frozenset({"1"})  # 3 of 3; "2" and "3" have 1 of 3
    assert m["d2"] == frozenset()  # 1 of 2 answers each: a tie is no majority
    assert m["d3"] == frozenset() and "d4" not in m
    assert m["d5"] == frozenset()  # three different single labels
    assert majority(PROPOSALS, ["a", "c"])["d1"] == frozenset({"1"})
    assert majority(PROPOSALS, ["a"])["d2"] == frozenset({"4"})
    assert majority([prop("x", "a", "1;2"), prop("x", "b", "2"), prop("x", "c", "2;1"),
                     prop("x", "d", "3")])["x"] == frozenset({"2"})  # "1" has 2 of 4


def test_majority_predictions_from_a_real_store(tmp_path: Path) -> None:
    st = study_mod.init(tmp_path / "s", "cap")
    with st.store() as store:
        store.add_documents((f"d{i}", f"text {i}", f"h{i}", {}, None) for i in range(1, 6))
        store.add_proposals(PROPOSALS)
        read = store.proposals()
    preds = majority_predictions(read, st.codebook.codes)
    assert preds.doc_ids == ["d1", "d2", "d3", "d5"]
    assert preds.by_id()["d1"] == frozenset({"1"})
    assert preds.codes == st.codebook.codes and preds.scores is None
    assert preds.provenance == {"aggregate": "majority", "annotators": ["a", "b", "c"]}
