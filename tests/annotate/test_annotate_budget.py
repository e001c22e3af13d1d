"""A cost cap is never passed: a property test of the admission rule with random prices
and answer lengths, and a real run against a fake provider on 127.0.0.1."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_annotate_support import Scripted, bills_study, scripted_server
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.annotate.budget import (
    Budget,
    spend_within,
    worst_cost,
    worst_input_tokens,
)
from replicoder.annotate.config import AnnotatorConfig, add_annotator
from replicoder.annotate.runner import annotate
from replicoder.cli import app
from replicoder.errors import ReplicoderError


@settings(max_examples=300, deadline=None)
@given(price_in=st.floats(0, 50), price_out=st.floats(0, 50),
       max_tokens=st.integers(1, 4000), cap=st.floats(0, 100),
       spent_before=st.floats(0, 5),
       prompts=st.lists(st.text(max_size=300), min_size=1, max_size=40),
       seed=st.integers(0, 2**32))
def test_the_cap_is_never_passed(price_in: float, price_out: float, max_tokens: int,
                                 cap: float, spent_before: float, prompts: list[str],
                                 seed: int) -> None:
    rng = random.Random(seed)
    cfg = AnnotatorConfig(name="a", backend="openai", model="m", max_tokens=max_tokens,
                          price_input_per_1k=price_in, price_output_per_1k=price_out)
    messages = [[{"role": "user", "content": p}] for p in prompts]
    costs = [worst_cost(cfg, m) for m in messages]
    budget = Budget.of([cfg], {"a": spent_before}, cap)
    assert budget is not None and budget.total is not None
    paid: list[float] = []

    def answer(wave: list[int]) -> Iterator[tuple[int, float]]:
        order = list(wave)
        rng.shuffle(order)  # answers arrive in any order
        for i in order:
            tokens_in = rng.randint(0, worst_input_tokens(messages[i]))
            tokens_out = rng.randint(0, max_tokens)
            paid.append((tokens_in * price_in + tokens_out * price_out) / 1000)
            yield i, paid[-1]

    done = list(spend_within(budget, "a", costs, answer))
    assert spent_before + sum(paid) <= max(cap, spent_before) + 1e-9
    assert done == sorted(done) or len(done) == len(set(done))
    if len(done) < len(costs):  # stopped only when the next request could not fit
        assert costs[len(done)] > cap - spent_before - sum(paid) - 1e-9
        assert budget.blocking("a", costs[len(done)]) is budget.total


def test_a_capped_run_stops_cleanly_and_remembers_its_spend(tmp_path: Path) -> None:
    n = 6
    study = bills_study(tmp_path, n)
    script = Scripted([], answer='{"labels": ["3"]}')
    with scripted_server(script) as url:
        # output priced only: every request's worst case is 100 tokens, $1.00
        add_annotator(study, AnnotatorConfig(name="api", backend="openai", model="m",
                                             base_url=url, max_tokens=100,
                                             price_output_per_1k=10.0))
        study = study_mod.open_study(study.root)
        actual = 7 * 10.0 / 1000  # the fake server reports 7 answer tokens
        cap = 1.0 + 2.5 * actual  # room for the worst case after 0, 1 and 2 answers
        first = annotate(study, max_cost=cap)
        (row,) = first.annotators
        assert (row.sent, row.left, row.documents) == (3, n - 3, 3)
        assert row.stopped_by == "--max-cost" and row.left_cost > 0
        assert row.cost == pytest.approx(row.sent * actual) and row.cost <= cap
        manifest = json.loads(first.manifest_path.read_text("utf-8"))
        assert manifest["budget"]["after"][0]["spent"] == pytest.approx(row.cost)
        # the spend is kept in study.db: the same cap sends nothing more
        again = annotate(study_mod.open_study(study.root), max_cost=cap)
        assert again.annotators[0].sent == 0 and again.annotators[0].left == row.left
        # a per-annotator cap in replicoder.toml, through the CLI
        add_annotator(study, AnnotatorConfig(name="api", backend="openai", model="m",
                                             base_url=url, max_tokens=100,
                                             price_output_per_1k=10.0, max_cost=100.0),
                      replace=True)
        out = CliRunner().invoke(app, ["annotate", "--study", str(study.root)],
                                 env={"COLUMNS": "200"})
        assert out.exit_code == 0, out.output
        assert "stopped by the cost cap" not in out.output
        out = CliRunner().invoke(app, ["annotate", "--max-cost", "0", "--study",
                                       str(study.root)], env={"COLUMNS": "200"})
        assert out.exit_code == 0, out.output
    assert len(script.requests) == n  # each document paid for once
    with pytest.raises(ReplicoderError, match="--max-cost must not be negative"):
        annotate(study_mod.open_study(study.root), max_cost=-1)


def test_the_cli_says_what_the_rest_would_cost(tmp_path: Path) -> None:
    study = bills_study(tmp_path, 3)
    with scripted_server(Scripted([])) as url:
        add_annotator(study, AnnotatorConfig(name="api", backend="openai", model="m",
                                             base_url=url, price_input_per_1k=1.0))
        out = CliRunner().invoke(app, ["annotate", "--max-cost", "0.0001", "--study",
                                       str(study.root)], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "api: stopped by the cost cap (--max-cost): 0 documents done, 3 left" in \
        " ".join(out.output.split())
    help_text = CliRunner().invoke(app, ["annotate", "--help"], env={"COLUMNS": "200"}).output
    assert "--max-cost" in help_text


def test_bad_caps_are_named(cap_study: study_mod.Study) -> None:
    from replicoder.annotate.config import load_annotators

    for entry, message in (({"name": "x", "max_cost": -1.0}, "'max_cost' must not be negat"),
                           ({"name": "x", "batch_discount": 0.0}, "'batch_discount' is the")):
        cap_study.config["annotators"] = [entry]
        cap_study.save_config()
        with pytest.raises(ReplicoderError, match=message):
            load_annotators(study_mod.open_study(cap_study.root))
