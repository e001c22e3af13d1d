"""Graded labels in the review app, over real HTTP: change an intensity, disagree on it,
adjudicate it, export it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_review_app import JSON, login, run_server
from test_review_store import make_study, propose

from replicoder import study as study_mod
from replicoder.review.export import export_verified


@pytest.fixture
def graded_study(tmp_path: Path) -> study_mod.Study:
    st = make_study(tmp_path, "flourishing")
    with st.store() as store:
        propose(store, "d1", gpt4=["happiness:high", "resilience:low"],
                llama2=["happiness:low"])
    return st


@pytest.fixture
def url(graded_study: study_mod.Study) -> Iterator[str]:
    yield from run_server(graded_study, None)


def _state(http: httpx.Client, coder: str) -> dict[str, object]:
    page = http.get(f"/c/{coder}/doc", params={"id": "d1"})
    assert page.status_code == 200, page.text
    raw = page.text.split('<script id="state" type="application/json">')[1].split("</script>")
    return dict(json.loads(raw[0]))


def test_changing_an_intensity_is_reject_plus_add(graded_study: study_mod.Study,
                                                  url: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=url, headers=JSON) as anna, \
            httpx.Client(base_url=url, headers=JSON) as bob, \
            httpx.Client(base_url=url, headers=JSON) as carla:
        login(anna, "anna")
        login(bob, "bob")
        login(carla, "carla")
        state = _state(anna, "anna")
        assert state["intensities"] == ["low", "medium", "high"]
        items = {i["code"]: i for i in state["items"]}  # type: ignore[attr-defined]
        assert items["happiness:high"]["level"] == "high"
        assert items["happiness:high"]["name"] == "happiness"
        body = {"doc_id": "d1", "unclear": False, "seconds": 4.0}
        both = anna.post("/api/c/anna/decide", json={**body, "rejected": [], "added": []})
        assert both.status_code == 400
        assert "label 'happiness' appears with two intensities" in both.json()["error"]
        bare = anna.post("/api/c/anna/decide",
                         json={**body, "rejected": ["happiness:low"], "added": ["vitality"]})
        assert bare.status_code == 400 and "as code:intensity" in bare.json()["error"]
        changed = anna.post("/api/c/anna/decide", json={
            **body, "rejected": ["happiness:high", "happiness:low"],
            "added": ["happiness:medium"]})
        assert changed.status_code == 200, changed.text
        kept = bob.post("/api/c/bob/decide",
                        json={**body, "rejected": ["happiness:low"], "added": []})
        assert kept.status_code == 200, kept.text
        with graded_study.store() as store:
            mine = store.decision("d1", "anna")
            assert mine is not None
            assert mine.kept == {"resilience:low"}
            assert mine.rejected == {"happiness:high", "happiness:low"}
            assert mine.added == {"happiness:medium"}
            assert "d1" not in store.verified_labels()  # the coders differ on the intensity
        page = carla.get("/c/carla/adjudicate/doc", params={"id": "d1"})
        assert page.status_code == 200 and "happiness (medium)" in page.text
        twice = carla.post("/api/c/carla/adjudicate", json={
            "doc_id": "d1", "labels": ["happiness:high", "happiness:medium"], "unclear": False})
        assert twice.status_code == 400 and "two intensities" in twice.json()["error"]
        done = carla.post("/api/c/carla/adjudicate", json={
            "doc_id": "d1", "labels": ["happiness:medium", "resilience:low"], "unclear": False})
        assert done.status_code == 200, done.text
    out = export_verified(graded_study, tmp_path / "verified.jsonl")
    rows = [json.loads(line) for line in out.path.read_text("utf-8").splitlines()]
    assert rows == [{"doc_id": "d1", "text": rows[0]["text"],
                     "labels": ["happiness:medium", "resilience:low"],
                     "label_names": ["happiness (medium)", "resilience (low)"],
                     "decided_by": "carla", "how": "adjudicated"}]
