"""`review assign --order uncertain` refits every 25 decisions unless told otherwise (the
interval the US-bills simulation, bench/bench_review_order.py, favoured over 50)."""

from __future__ import annotations

from pathlib import Path

from test_review_order import bills_study, code
from typer.testing import CliRunner

from replicoder.cli import app as cli_app
from replicoder.review import order as ordering


def test_uncertain_order_refits_every_25_decisions_by_default(tmp_path: Path) -> None:
    st, gold = bills_study(tmp_path, 200)
    ids = list(gold)
    with st.store() as store:
        code(store, st, gold, ids[:40])
    res = CliRunner().invoke(cli_app, ["review", "assign", "--coders", "anna", "--overlap",
                                       "0", "--order", "uncertain", "--study", str(st.root)])
    assert res.exit_code == 0, res.output
    with st.store() as store:
        assert store.orders()[-1].refresh_every == 25
        todo = store.queue("anna")[40:]
        code(store, st, gold, todo[:24])
        assert not ordering.refresh_if_due(st, store)
        code(store, st, gold, todo[24:25])
        assert ordering.refresh_if_due(st, store)
