"""classify --route-to review and export corpus (issue 30), with a tiny random model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paths import BILLS
from test_splits import make_study
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.classify import ClassifyStopped, classify
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.models.tiny import build_tiny
from replicoder.review import session
from replicoder.review.routing import export_corpus
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> study_mod.Study:
    root = tmp_path_factory.mktemp("route")
    tiny = str(build_tiny(root / "tiny"))
    df = pd.read_csv(BILLS)
    rows = df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(20)
    st = make_study(root / "study", rows)
    train(st, "m", TrainConfig(base=tiny, epochs=1, batch_size=8))
    return st


def test_route_to_review_then_export(tmp_path: Path, trained: study_mod.Study) -> None:
    st = trained
    probe = classify(st, "m", tmp_path / "probe.parquet")
    top = pd.read_parquet(probe.out).top_score
    cut = float(np.median(top))
    out = tmp_path / "coded.parquet"
    with pytest.raises(ClassifyStopped):
        classify(st, "m", out, route_below=cut, route_to="review", checkpoint_every=20,
                 stop_after=1)
    result = classify(st, "m", out, route_below=cut, route_to="review", checkpoint_every=20)
    coded = pd.read_parquet(out)
    low = coded[coded.top_score < cut]
    assert result.resumed_from == 20 and 0 < result.routed <= len(low)
    assert set(coded.answered_by) == {"model", "model (queued for review)"}
    assert set(low.answered_by) == {"model (queued for review)"}
    with st.store() as store:
        proposed = {p.doc_id: p for p in store.proposals(annotator="model-m")}
        assert set(proposed) == set(low.id)  # once each, although the job was resumed
        first = session.opening(store, "anna")
        assert first in proposed
        assert set(store.queue("anna")[:len(proposed)]) == set(proposed)
        assert store.orders()[-1].kind == "route"
        reviewed = sorted(proposed)[:5]
        for d in reviewed:  # anna rejects the model's label and types another
            wrong = proposed[d].labels
            right = next(c for c in ("3", "12", "16", "20") if c not in wrong)
            session.decide(store, st.codebook, "anna", d, sorted(wrong), [right], False, 1.0)
    final = tmp_path / "final.csv"
    res = CliRunner().invoke(app, ["export", "corpus", "--predictions", str(out), "--out",
                                   str(final), "--study", str(st.root)])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert "(human: 5, model: 75)" in said
    table = pd.read_csv(final, dtype=str).set_index("id")
    assert len(table) == 80
    humans = table[table.answered_by == "human"]
    assert sorted(humans.index) == reviewed and set(humans.who) == {"anna"}
    assert (humans.labels != humans.model_labels).all()
    rest = table[table.answered_by == "model"]
    assert set(rest.who) == {"m"} and (rest.labels.fillna("") == rest.model_labels.fillna("")
                                       ).all()
    assert (tmp_path / "final.csv.manifest.json").is_file()


def test_route_to_review_errors(tmp_path: Path, trained: study_mod.Study) -> None:
    outside = tmp_path / "outside.csv"
    pd.DataFrame({"doc": ["x1", "x2"], "text": ["A bill on taxes.", "A farm bill."]}
                 ).to_csv(outside, index=False)
    with pytest.raises(ReplicoderError, match="routed documents are not in the study"):
        classify(trained, "m", tmp_path / "o.csv", input=outside, id_column="doc",
                 route_below=1.01, route_to="review")
    with pytest.raises(ReplicoderError, match="use .csv, .parquet or .jsonl"):
        export_corpus(trained, outside, tmp_path / "x.xlsx")
    with pytest.raises(ReplicoderError, match="no 'labels' column"):
        export_corpus(trained, outside, tmp_path / "x.csv", id_column="doc")
