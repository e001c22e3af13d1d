"""Label audit (issue 30): cross-fitted confident learning finds injected wrong labels and
queues them for a second coder, keeping the original decision."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paths import BILLS
from test_review_order import ONE_LABEL, code
from test_review_store import make_study
from typer.testing import CliRunner

from replicoder import importer
from replicoder import study as study_mod
from replicoder.cli import app as cli_app
from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import parse
from replicoder.review import adjudication, session
from replicoder.review.audit import audit, flagged_ranking


def noisy_bills(tmp_path: Path, n: int = 500, noise: float = 0.06
                ) -> tuple[study_mod.Study, dict[str, str], set[str]]:
    """A study of ``n`` bills whose gold labels have ``noise`` of them swapped."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(BILLS)
    frame = frame[frame["major_topic"] != 99].sample(n, random_state=1)
    rng = np.random.default_rng(2)
    topics = sorted(frame["major_topic"].unique())
    wrong = rng.choice(n, size=int(noise * n), replace=False)
    labels = frame["major_topic"].to_numpy().copy()
    for i in wrong:
        labels[i] = rng.choice([t for t in topics if t != labels[i]])
    frame = frame.assign(noisy=labels)
    frame[["id", "text", "noisy"]].to_csv(tmp_path / "noisy.csv", index=False)
    st = study_mod.init(tmp_path / "study", "cap")
    importer.import_file(st, tmp_path / "noisy.csv", text="text", id="id", labels="noisy")
    ids = [str(i) for i in frame["id"]]
    true = {d: str(t) for d, t in zip(ids, frame["major_topic"], strict=True)}
    return st, true, {ids[i] for i in wrong}


def test_audit_finds_wrong_gold_and_queues_it_for_a_second_coder(tmp_path: Path) -> None:
    st, true, wrong = noisy_bills(tmp_path)
    with st.store() as store:  # anna verified some documents (with the noisy label)
        gold = {d: next(iter(v)) for d, v in store.gold().items()}
        code(store, st, gold, sorted(gold)[:40])
    with st.store() as store:
        logged = store.decision_log_size()
    dry = audit(st, top=2 * len(wrong), coder="ben", queue=False)  # as a run cut short:
    with st.store() as store:  # it wrote findings.csv only
        assert store.decision_log_size() == logged and not store.findings()
    result = audit(st, top=2 * len(wrong), coder="ben")
    top = [f.doc_id for f in result.queued]
    assert result.audited == 500 and result.flagged >= len(wrong)
    recall = len(set(top) & wrong) / len(wrong)
    assert recall >= 0.5, recall
    assert [f.rank for f in result.queued] == sorted(f.rank for f in result.queued)
    rows = list(csv.DictReader((st.root / result.out).open()))
    assert len(rows) == 500 and rows[0]["flagged"] == "True"
    assert list(csv.DictReader((st.root / dry.out).open())) == rows  # the rerun: the same
    with st.store() as store:
        assert store.decision_log_size() == logged  # and no decision touched
    with st.store() as store:
        assert store.queue("ben")[:len(top)] == top  # first in the second coder's queue
        assert set(store.queue("anna")) == set(store.doc_ids())  # no queue shrank
        assert [f.doc_id for f in store.findings(result.run_id)] == top
        redo = next(d for d in top if d in sorted(gold)[:40]) if set(top) & set(
            sorted(gold)[:40]) else None
        if redo is not None:  # the second coder disagrees: adjudication, anna's kept
            session.decide(store, st.codebook, "ben", redo, [], [true[redo]], False, 1.0)
            assert store.decision(redo, "anna") is not None
            assert redo in {d.doc_id for d in adjudication.disagreements(store)}


def test_audit_errors(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    with pytest.raises(ReplicoderError, match="no gold or verified labels to audit"):
        audit(st)
    with st.store() as store:
        code(store, st, {"d1": "3", "d2": "3", "d3": "3", "d4": "3"}, ["d1", "d2", "d3", "d4"])
    with pytest.raises(ReplicoderError, match="4 labelled documents are too few to cross-fit 3"):
        audit(st, folds=3)
    with pytest.raises(ReplicoderError, match="all 4 labelled documents carry the same code"):
        audit(st, folds=2)
    st2, _, _ = noisy_bills(tmp_path / "b", 40, 0.0)
    with pytest.raises(ReplicoderError, match="no second coder"):
        audit(st2, folds=2)
    with pytest.raises(ReplicoderError, match="unknown model 'nope'"):
        audit(st2, model="nope")
    (tmp_path / "one.yaml").write_text(ONE_LABEL)
    one = study_mod.init(tmp_path / "one", tmp_path / "one.yaml")
    with pytest.raises(ReplicoderError, match="has one label and is single-label"):
        audit(one)
    res = CliRunner().invoke(cli_app, ["review", "audit", "--dry-run", "--folds", "2",
                                       "--study", str(st2.root)])
    assert res.exit_code == 0, res.output
    assert "Audited 40 labelled documents" in res.output
    res = CliRunner().invoke(cli_app, ["review", "audit", "--help"])
    assert "confident learning" in res.output and "--top" in res.output


MULTI = """name: m
multi_label: true
labels:
  - {code: tax, name: Tax}
  - {code: farm, name: Farm}
  - {code: war, name: War}
"""
GRADED = """name: g
intensities: [low, high]
labels:
  - {code: tax, name: Tax}
  - {code: farm, name: Farm}
"""
WORDS = {"tax": ["tax", "revenue", "levy", "income"], "farm": ["farm", "crop", "cattle", "soil"],
         "war": ["army", "troops", "weapons", "navy"]}


def synthetic(kind: str, n: int = 300) -> tuple[list[str], list[frozenset[str]], set[int]]:
    rng = np.random.default_rng(5)
    texts, labels, wrong = [], [], set()
    for i in range(n):
        codes = [c for c in WORDS if rng.random() < 0.4] or ["tax"]
        if kind == "graded":
            codes = [c for c in codes if c != "war"] or ["farm"]
        words = [w for c in codes for w in rng.choice(WORDS[c], 3)]
        words += list(rng.choice(["the", "act", "bill", "of", "for"], 3))
        texts.append(" ".join(rng.permutation(words)))
        lab = set(codes)
        if rng.random() < 0.08:
            wrong.add(i)
            flip = str(rng.choice([c for c in WORDS if kind != "graded" or c != "war"]))
            lab ^= {flip}
            if not lab:
                lab = {"war" if kind != "graded" else ("tax" if flip == "farm" else "farm")}
        if kind == "graded":
            labels.append(frozenset(f"{c}:{'high' if texts[-1].count(WORDS[c][0]) else 'low'}"
                                    for c in lab))
        else:
            labels.append(frozenset(lab))
    return texts, labels, wrong


@pytest.mark.parametrize("kind,text", [("multi", MULTI), ("graded", GRADED)])
def test_audit_multi_label_and_graded(kind: str, text: str) -> None:
    book = parse(text)
    texts, labels, wrong = synthetic(kind)
    flagged, order = flagged_ranking(book, texts, labels, folds=5, seed=0)
    top = set(flagged[:2 * len(wrong)])
    assert len(top & wrong) / len(wrong) >= 0.5
    assert len(order) == len(texts)
