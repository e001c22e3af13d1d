"""Review order (issue 30): proposals first, random, uncertain (TF-IDF refits), disagreement,
diverse; recorded in study.db; estimate refuses a steered, incomplete sample."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from paths import BILLS
from test_review_app import JSON, login, run_server
from test_review_store import make_study, propose
from typer.testing import CliRunner

from replicoder import importer
from replicoder import study as study_mod
from replicoder.cli import app as cli_app
from replicoder.errors import ReplicoderError
from replicoder.review import order as ordering
from replicoder.review import session
from replicoder.review.assignment import assign
from replicoder.store import Store

ONE_LABEL = """name: one
labels:
  - code: a
    name: A
"""


def bills_study(tmp_path: Path, n: int = 400) -> tuple[study_mod.Study, dict[str, str]]:
    frame = pd.read_csv(BILLS)
    frame = frame[frame["major_topic"] != 99].sample(n, random_state=0)
    frame[["id", "text", "major_topic"]].to_csv(tmp_path / "bills.csv", index=False)
    st = study_mod.init(tmp_path / "study", "cap")
    importer.import_file(st, tmp_path / "bills.csv", text="text", id="id", labels="major_topic")
    return st, {str(i): str(t) for i, t in zip(frame["id"], frame["major_topic"], strict=True)}


def code(store: Store, st: study_mod.Study, gold: dict[str, str], ids: list[str],
         coder: str = "anna") -> None:
    """A coder who types the gold label of each document."""
    for d in ids:
        session.decide(store, st.codebook, coder, d, [], [gold[d]], False, 1.0)


def test_default_queue_puts_proposals_first_and_follows_new_ones(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    with st.store() as store:
        assert store.queue("anna") == ["d1", "d2", "d3", "d4"]
        assert session.opening(store, "anna") == "d1"  # no proposals anywhere: import order
        propose(store, "d3", llm_a=["3"])
        assert store.queue("anna") == ["d3", "d1", "d2", "d4"]
        assert session.opening(store, "anna") == "d3"
        assert store.queue_around("anna", store.queue_seq("anna", "d1") or 0) == (1, "d3", "d2")
        session.decide(store, st.codebook, "anna", "d3", [], [], False, 1.0)
        assert session.opening(store, "anna") is None  # proposals done: the coder must ask
        assert session.opening(store, "anna", include_unproposed=True) == "d1"
        assert session.next_undecided(store, "anna") == "d1"
    extra = tmp_path / "more.csv"
    extra.write_text("id,text\nd5,To fund rural broadband.\n")
    importer.import_file(st, extra, text="text", id="id")
    with st.store() as store:
        assert store.queue("anna")[-1] == "d5"
        propose(store, "d5", llm_a=["8"])
        assert store.queue("anna")[:2] == ["d3", "d5"]


def test_an_older_study_gets_its_queue_keys(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    with st.store() as store:
        propose(store, "d4", llm_a=["7"])
        store.conn.execute("DROP TABLE queue_keys")  # as a study.db made before issue 30
    with st.store() as store:
        assert store.queue("anna") == ["d4", "d1", "d2", "d3"]


@pytest.fixture
def url(tmp_path: Path) -> Iterator[tuple[str, study_mod.Study]]:
    st = make_study(tmp_path)
    with st.store() as store:
        propose(store, "d2", llm_a=["18"], llm_b=["18"])
    for u in run_server(st, None):
        yield u, st


def test_the_app_never_opens_on_a_document_without_proposals(
        url: tuple[str, study_mod.Study]) -> None:
    base, st = url
    with httpx.Client(base_url=base, headers=JSON) as http:
        login(http, "anna")
        assert http.get("/c/anna/").headers["location"] == "/c/anna/doc?id=d2"
        body = {"doc_id": "d2", "rejected": [], "added": [], "unclear": False, "seconds": 2}
        assert http.post("/api/c/anna/decide", json=body).status_code == 200
        page = http.get("/c/anna/")
        assert page.status_code == 200 and "All proposals reviewed" in page.text
        assert 'href="/c/anna/?all=1"' in page.text
        asked = http.get("/c/anna/", params={"all": "1"})
        assert asked.headers["location"] == "/c/anna/doc?id=d1"


def test_random_and_disagreement_orders_are_recorded(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    with pytest.raises(ReplicoderError, match="no proposals: run `replicoder annotate`"):
        assign(st, ["anna"], 0.0, order="disagreement")
    with st.store() as store:
        propose(store, "d1", llm_a=["3"], llm_b=["3"], llm_c=["3"])
        propose(store, "d2", llm_a=["18"], llm_b=["7"], llm_c=["18"])
        propose(store, "d4", llm_a=["7"], llm_b=["12"], llm_c=["3"])
    result = assign(st, ["anna"], 0.0, order="disagreement")
    with st.store() as store:
        assert store.queue("anna") == ["d4", "d2", "d1", "d3"]
        recorded = store.orders()[-1]
    assert recorded.kind == "disagreement" and recorded.run_id == result.run_id
    assert recorded.inputs["annotators"] == ["llm_a", "llm_b", "llm_c"]
    assert recorded.inputs["disagreeing"] == 2 and recorded.refresh_every is None
    first = assign(st, ["anna"], 0.0, order="random", seed=1).order
    with st.store() as store:
        shuffled = store.queue("anna")
    assign(st, ["anna"], 0.0, order="random", seed=1)
    with st.store() as store:
        assert store.queue("anna") == shuffled and sorted(shuffled) == ["d1", "d2", "d3", "d4"]
        assert [o.kind for o in store.orders()] == ["disagreement", "random", "random"]
    assert first["seed"] == 1
    with pytest.raises(ReplicoderError, match="--order sideways: choose from default, random"):
        assign(st, ["anna"], 0.0, order="sideways")


def test_uncertain_order_needs_labels_of_two_codes(tmp_path: Path) -> None:
    st, gold = bills_study(tmp_path, 60)
    with pytest.raises(ReplicoderError, match="no verified labels yet"):
        assign(st, ["anna"], 0.0, order="uncertain")
    with st.store() as store:
        first = next(iter(gold))
        same = [d for d in gold if gold[d] == gold[first]][:3]
        code(store, st, gold, same)
    with pytest.raises(ReplicoderError, match="cannot fit the TF-IDF model on the 3 verified"):
        assign(st, ["anna"], 0.0, order="uncertain")
    (tmp_path / "one.yaml").write_text(ONE_LABEL)
    one = study_mod.init(tmp_path / "one", tmp_path / "one.yaml")
    importer.import_file(one, tmp_path / "bills.csv", text="text", id="id")
    with pytest.raises(ReplicoderError, match="has one label and is single-label"):
        assign(one, ["anna"], 0.0, order="uncertain")
    with pytest.raises(ReplicoderError, match="no such|not found|models"):
        assign(st, ["anna"], 0.0, order="uncertain", model="missing")


def test_uncertain_order_ranks_by_margin_and_refits(tmp_path: Path) -> None:
    st, gold = bills_study(tmp_path)
    ids = list(gold)
    with st.store() as store:
        code(store, st, gold, ids[::4][:60])
    result = assign(st, ["anna"], 0.0, order="uncertain", refresh_every=10)
    assert result.order["verified"] == 60 and result.order["refresh_every"] == 10
    with st.store() as store:
        queue = store.queue("anna")
        verified = store.verified_labels()
        assert set(queue[:60]) == set(verified)  # decided first, then the most uncertain
        todo = queue[60:]
        texts = {d.doc_id: d.text for d in store.documents(ids)}
        scores, multi, _ = ordering.fit_scores(st.codebook, verified, texts, todo, st.seed)
        m = ordering.margins(scores, multi)
        assert m[:20].mean() < m[-20:].mean()
        assert np.all(np.diff(m) >= -1e-12)
        assert not ordering.refresh_if_due(st, store)
        code(store, st, gold, todo[:9])
        assert not ordering.refresh_if_due(st, store)
        code(store, st, gold, todo[9:10])
        before = store.queue("anna")
        assert ordering.refresh_if_due(st, store)
        after = store.queue("anna")
        assert after[:70] == before[:70] and after != before and set(after) == set(before)
        fits = store.order_fits(store.orders()[-1].order_id)
        assert [f["verified"] for f in fits] == [60, 70]
        assert not ordering.refresh_if_due(st, store)  # not due again until 10 more


def test_diverse_batches_are_less_alike_than_the_top_uncertain(tmp_path: Path) -> None:
    st, gold = bills_study(tmp_path)
    ids = list(gold)
    with st.store() as store:
        code(store, st, gold, ids[::5][:50])
    assign(st, ["anna"], 0.0, order="uncertain")
    with st.store() as store:
        plain = store.queue("anna")[50:70]
    result = assign(st, ["anna"], 0.0, order="diverse", batch=20)
    assert result.order["batch"] == 20 and result.order["candidates"] == 100
    with st.store() as store:
        mixed = store.queue("anna")[50:70]
        texts = {d.doc_id: d.text for d in store.documents(ids)}
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True).fit(texts.values())

    def mean_sim(batch: list[str]) -> float:
        x = vec.transform([texts[d] for d in batch])
        sim = (x @ x.T).toarray()
        return float(sim[np.triu_indices(len(batch), 1)].mean())

    assert mixed[0] == plain[0] and mean_sim(mixed) < mean_sim(plain)


def test_estimate_refuses_a_steered_incomplete_sample(tmp_path: Path) -> None:
    from estimate_study import make, review

    from replicoder.estimate import estimate
    from replicoder.review.sample import draw_sample

    st, coded, truth = make(tmp_path)
    sample = draw_sample(st, 40, 3, source=coded, coders=["anna"])
    with st.store() as store:
        assert store.orders()[-1].kind == "random"
    review(st, sorted(sample.doc_ids)[:30], truth)
    assert len(estimate(st, coded, allow_incomplete=True, figure=False).table) == 12
    assign(st, ["anna"], 0.0, order="uncertain", doc_ids=sample.doc_ids)
    with pytest.raises(ReplicoderError, match="'uncertain' review order .* steered the review"):
        estimate(st, coded, allow_incomplete=True, figure=False)
    review(st, sorted(sample.doc_ids)[30:], truth)
    assert len(estimate(st, coded, figure=False).table) == 12  # complete: order is harmless


def test_assign_cli_order(tmp_path: Path) -> None:
    st = make_study(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli_app, ["review", "assign", "--coders", "anna", "--overlap", "0",
                                  "--order", "uncertain", "--study", str(st.root)])
    assert isinstance(res.exception, ReplicoderError)
    assert "no verified labels yet" in str(res.exception)
    res = runner.invoke(cli_app, ["review", "assign", "--coders", "anna", "--overlap", "0",
                                  "--order", "random", "--study", str(st.root)])
    assert res.exit_code == 0 and "in random order" in res.output
    res = runner.invoke(cli_app, ["review", "assign", "--help"])
    assert "disagreement" in res.output and "--refresh-every" in res.output


def test_the_app_refits_the_order_every_k_decisions(tmp_path: Path) -> None:
    st, gold = bills_study(tmp_path, 120)
    ids = list(gold)
    with st.store() as store:
        code(store, st, gold, ids[:30])
    assign(st, ["anna"], 0.0, order="uncertain", refresh_every=2)
    for base in run_server(st, None):
        with httpx.Client(base_url=base, headers=JSON) as http:
            login(http, "anna")
            for _ in range(2):
                nxt = http.get("/c/anna/").headers["location"].split("id=")[1]
                body = {"doc_id": nxt, "rejected": [], "added": [gold[nxt]],
                        "unclear": False, "seconds": 1}
                assert http.post("/api/c/anna/decide", json=body).status_code == 200
    with st.store() as store:
        fits = store.order_fits(store.orders()[-1].order_id)
        assert [f["verified"] for f in fits] == [30, 32]  # refitted after the 2nd decision
        assert store.decision_log_size() == 32
