"""The review app in headless Chromium: approve, reject, add, flag, go back, reload mid-document,
two coders, adjudication, and a <script> document that must render as text."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect
from test_review_store import TEXTS, make_study, propose

from replicoder.review import session
from replicoder.review.assignment import assign
from replicoder.review.security import CoderKeys
from replicoder.review.server import coder_link
from replicoder.store import Store


def login_url(study: Path, base: str, coder: str) -> str:
    """The coder's personal link (what `replicoder review link --coder NAME` prints)."""
    return coder_link(CoderKeys.for_study(study), coder, base)

def proposals(store: Store) -> None:
    propose(store, "d1", llm_a=["3"], llm_b=["3", "7"])
    propose(store, "d2", llm_a=["18"], llm_b=["18"])


def label(page: Page, code: str) -> Any:
    return page.locator(f'#labels li[data-code="{code}"]')


def add_by_search(page: Page, query: str, code: str, shot: Path | None = None) -> None:
    page.keyboard.press("a")
    expect(page.locator("#search-input")).to_be_focused()
    page.keyboard.type(query)
    expect(page.locator("#results li").first.locator(".code")).to_have_text(code)
    if shot is not None:
        page.screenshot(path=str(shot))
    page.keyboard.press("Enter")
    expect(label(page, code)).to_have_class(re.compile(r"\badded\b"))
    expect(page.locator("#status")).to_have_text("draft saved")


def test_one_coder_reviews_with_the_keyboard(
    browser: Any, serve: Callable[[Path, str], str], tmp_path: Path, artifacts: Path
) -> None:
    st = make_study(tmp_path)
    with st.store() as store:
        proposals(store)
    url = serve(st.root, "anna")
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(login_url(st.root, url, "anna"))

    # d1: two annotators proposed 3, one proposed 7; reject 7 with its digit
    expect(page.locator("#doc-id")).to_have_text("d1")
    expect(label(page, "3").locator(".chip")).to_have_text(["llm_a", "llm_b"])
    expect(label(page, "7").locator(".chip")).to_have_text(["llm_b"])
    page.keyboard.press("2")
    expect(label(page, "7")).to_have_class(re.compile(r"\boff\b"))
    expect(page.locator("#status")).to_have_text("draft saved")
    page.screenshot(path=str(artifacts / "review.png"))
    page.reload()  # mid-document: the rejection survives
    expect(label(page, "7")).to_have_class(re.compile(r"\boff\b"))
    expect(label(page, "3")).not_to_have_class(re.compile(r"\boff\b"))
    page.keyboard.press("Enter")

    # d2: approve as proposed
    expect(page.locator("#doc-id")).to_have_text("d2")
    expect(page.locator("#progress")).to_contain_text("1 / 4 done")
    page.keyboard.press("Enter")

    # d3: untrusted text renders as text; no proposals, so code it by hand
    expect(page.locator("#doc-id")).to_have_text("d3")
    expect(page.locator("#text")).to_have_text(TEXTS["d3"])
    expect(page.locator("#labels")).to_contain_text("No labels yet")
    add_by_search(page, "health", "3", artifacts / "review-search.png")
    page.keyboard.press("Enter")

    # d4: go back to d3 (its decision is shown), save it again, then flag d4 unclear
    expect(page.locator("#doc-id")).to_have_text("d4")
    page.keyboard.press("Backspace")
    expect(page.locator("#doc-id")).to_have_text("d3")
    expect(label(page, "3")).to_have_class(re.compile(r"\badded\b"))
    page.keyboard.press("Enter")
    expect(page.locator("#doc-id")).to_have_text("d4")
    page.keyboard.press("u")
    expect(page.locator("#unclear")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#done")).to_contain_text("all 4 documents")
    assert dialogs == []

    with st.store() as store:
        got = {d.doc_id: d for d in store.decisions("anna")}
        assert store.decision_log_size() == 5  # d3 was saved twice
    assert (got["d1"].kept, got["d1"].rejected, got["d1"].added) == ({"3"}, {"7"}, set())
    assert got["d2"].final == {"18"} and got["d3"].added == {"3"}
    assert got["d4"].unclear and not got["d1"].unclear
    assert all(d.seconds > 0 for d in got.values())
    page.close()


def test_two_coders_then_adjudication(
    browser: Any, serve: Callable[[Path, str], str], tmp_path: Path, artifacts: Path
) -> None:
    st = make_study(tmp_path)
    assign(st, ["anna", "ben"], overlap=1.0)
    with st.store() as store:
        proposals(store)
        for doc, rejected, added in [("d1", ["7"], []), ("d2", [], []), ("d3", [], ["3"]),
                                     ("d4", [], ["7"])]:
            session.decide(store, st.codebook, "anna", doc, rejected, added, False, 3.0)
    url = serve(st.root, "ben")
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    page.goto(login_url(st.root, url, "ben"))
    page.goto(url + "/")
    page.locator('input[name="coder"]').fill("ben")
    page.locator("form.go button").click()

    # d1: both labels kept is not allowed in a single-label codebook; ben keeps 7
    expect(page.locator("#doc-id")).to_have_text("d1")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("exactly one label")
    expect(page.locator("#doc-id")).to_have_text("d1")
    page.keyboard.press("1")
    expect(label(page, "3")).to_have_class(re.compile(r"\boff\b"))
    page.keyboard.press("Enter")
    expect(page.locator("#doc-id")).to_have_text("d2")

    other = browser.new_page()  # a second tab picks up where the first one is
    other.goto(login_url(st.root, url, "ben"))
    expect(other.locator("#doc-id")).to_have_text("d2")
    other.close()

    page.keyboard.press("Enter")
    expect(page.locator("#doc-id")).to_have_text("d3")
    add_by_search(page, "3", "3")
    page.keyboard.press("Enter")
    expect(page.locator("#doc-id")).to_have_text("d4")
    add_by_search(page, "crime", "12")
    page.keyboard.press("Enter")
    expect(page.locator("#done")).to_be_visible()

    # carla adjudicates the two disagreements (d1: 3 vs 7, d4: 7 vs 12)
    page.goto(login_url(st.root, url, "carla"))
    page.goto(url + "/c/carla/adjudicate")
    expect(page.locator("#alpha")).to_contain_text("alpha (nominal)")
    expect(page.locator("#disagreements tbody tr")).to_have_count(2)
    page.locator("#start").click()
    expect(page.locator("#doc-id")).to_have_text("d1")
    expect(label(page, "3").locator(".chip")).to_have_text(["anna"])
    expect(label(page, "7").locator(".chip")).to_have_text(["ben"])
    page.keyboard.press("1")
    expect(label(page, "3")).not_to_have_class(re.compile(r"\boff\b"))
    page.screenshot(path=str(artifacts / "adjudicate.png"))
    page.keyboard.press("Enter")
    expect(page.locator("#doc-id")).to_have_text("d4")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#disagreements")).to_contain_text("12 (carla)")
    expect(page.locator("#start")).to_have_count(0)
    page.close()

    with st.store() as store:
        assert store.verified_labels() == {"d1": {"3"}, "d2": {"18"}, "d3": {"3"}, "d4": {"12"}}
        assert [v.how for v in store.verified()] == ["adjudicated", "agreed", "agreed",
                                                     "adjudicated"]


def test_a_coder_changes_an_intensity(
    browser: Any, serve: Callable[[Path, str], str], tmp_path: Path, artifacts: Path
) -> None:
    st = make_study(tmp_path, "flourishing")
    with st.store() as store:
        propose(store, "d1", gpt4=["happiness:high", "resilience:low"], llama2=["happiness:low"])
    url = serve(st.root, "anna")
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    page.goto(login_url(st.root, url, "anna"))
    expect(page.locator("#doc-id")).to_have_text("d1")
    high = label(page, "happiness:high")
    expect(high.locator("select.level")).to_have_value("high")
    high.locator("select.level").select_option("medium")
    expect(high).to_have_class(re.compile(r"\boff\b"))
    expect(label(page, "happiness:medium")).to_have_class(re.compile(r"\badded\b"))
    expect(page.locator("#status")).to_have_text("draft saved")
    label(page, "happiness:low").locator(".name").click()
    expect(label(page, "happiness:low")).to_have_class(re.compile(r"\boff\b"))
    page.screenshot(path=str(artifacts / "review-graded.png"))
    page.locator("#btn-save").click()
    expect(page.locator("#doc-id")).to_have_text("d2")
    with st.store() as store:
        got = store.decision("d1", "anna")
    assert got is not None
    assert got.rejected == {"happiness:high", "happiness:low"}
    assert got.added == {"happiness:medium"} and got.kept == {"resilience:low"}
    page.close()
