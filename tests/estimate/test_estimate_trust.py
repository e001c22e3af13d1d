"""Issue 25, items 7, 15, 16, 17: estimate on graded studies (from classify's own output),
empty ids, several labels in a single-label study, NaN scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from estimate_study import make, review
from graded_study import graded_study
from typer.testing import CliRunner

from replicoder.classify.local import classify
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.estimate.corpus import estimate
from replicoder.labels.graded import split
from replicoder.models.tiny import build_tiny
from replicoder.review import session
from replicoder.review.sample import draw_sample
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)


def test_graded_study_estimates_from_classify_output(tmp_path: Path) -> None:
    st = graded_study(tmp_path / "study", n=60)
    tiny = str(build_tiny(tmp_path / "tiny"))
    train(st, "m", TrainConfig(base=tiny, epochs=1, batch_size=8))
    coded = tmp_path / "coded.parquet"
    classify(st, "m", coded)
    frame = pd.read_parquet(coded)
    values = {v for cell in frame["labels"] for v in cell.split(";") if v}
    assert values and all(split(v)[1] in ("low", "medium", "high") for v in values)
    drawn = draw_sample(st, 20, 3, source=coded, coders=["anna"])
    with st.store() as store:
        gold = {d.doc_id: d.gold for d in store.documents(drawn.doc_ids)}
        for doc_id in drawn.doc_ids:
            session.decide(store, st.codebook, "anna", doc_id, [], sorted(gold[doc_id] or ()),
                           False, 1.0)
    shares = estimate(st, coded, figure=False).table
    assert sorted(shares.label.unique()) == ["hope", "joy", "worry"]
    ppi = shares[shares.method == "sample-only"].set_index("label")["estimate"]
    truth = {c: sum(any(split(v)[0] == c for v in gold[d] or ()) for d in gold) / 20
             for c in ("joy", "worry", "hope")}
    assert ppi.to_dict() == pytest.approx(truth)
    graded = estimate(st, coded, figure=False, intensities=True).table
    assert {"joy", "joy:high", "worry:low"} <= set(graded.label)
    assert set(graded[graded.label == "joy:high"].label_name) == {"Joy (high)"}
    scored = estimate(st, coded, figure=False, use="scores", intensities=True).table
    assert len(scored) == len(graded)
    # plain codes (intensities dropped): presence shares work, intensity shares are refused
    plain = tmp_path / "plain.parquet"
    frame.assign(labels=[";".join(sorted({split(v)[0] for v in c.split(";") if v}))
                         for c in frame["labels"]]).to_parquet(plain, index=False)
    same = estimate(st, plain, figure=False).table
    pd.testing.assert_frame_equal(same, shares)
    with pytest.raises(ReplicoderError, match="intensity shares need every label"):
        estimate(st, plain, intensities=True)
    res = CliRunner().invoke(app, ["estimate", "--predictions", str(coded), "--intensities",
                                   "--study", str(st.root), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "joy:high" in pd.read_csv(tmp_path / "o" / "shares.csv").label.tolist()


def test_intensities_need_a_graded_codebook(tmp_path: Path) -> None:
    st, coded, _ = make(tmp_path, n=60)
    with pytest.raises(ReplicoderError, match="--intensities.*not graded"):
        estimate(st, coded, methods=["classify-and-count"], intensities=True)


@pytest.mark.parametrize("blank", [None, "", "  "])
def test_empty_or_null_ids_are_named(tmp_path: Path, blank: str | None) -> None:
    st, coded, _ = make(tmp_path, n=60)
    frame = pd.read_parquet(coded)
    frame["id"] = frame["id"].astype(object)
    frame.loc[[3, 7], "id"] = blank
    bad = tmp_path / "bad.parquet"
    frame.to_parquet(bad, index=False)
    frame.to_csv(tmp_path / "bad.csv", index=False)
    for path in (bad, tmp_path / "bad.csv"):
        with pytest.raises(ReplicoderError, match=r"empty or null in 2 rows \(data rows 2: 4, 8"):
            estimate(st, path, methods=["classify-and-count"])
        with pytest.raises(ReplicoderError, match="empty or null in 2 rows"):
            draw_sample(st, 10, 1, source=path)


def test_single_label_study_refuses_several_labels(tmp_path: Path) -> None:
    st, coded, _ = make(tmp_path, n=60)
    frame = pd.read_parquet(coded)
    frame.loc[[2, 9], "labels"] = "econ;health"
    frame.to_parquet(tmp_path / "two.parquet", index=False)
    with pytest.raises(ReplicoderError) as err:
        estimate(st, tmp_path / "two.parquet", methods=["classify-and-count"])
    assert "single-label" in str(err.value) and "2 rows carry several labels" in str(err.value)
    assert "row 3 ('econ;health')" in str(err.value)


def test_nan_scores_are_named(tmp_path: Path) -> None:
    st, coded, truth = make(tmp_path, n=60)
    drawn = draw_sample(st, 20, 1, source=coded, coders=["anna"])
    review(st, drawn.doc_ids, truth)
    frame = pd.read_parquet(coded)
    frame.loc[[4, 11], "score_health"] = np.nan
    frame.to_parquet(tmp_path / "nan.parquet", index=False)
    with pytest.raises(ReplicoderError) as err:
        estimate(st, tmp_path / "nan.parquet", use="scores")
    message = str(err.value)
    assert "'score_health' is NaN" in message and "2 rows" in message and "5, 12" in message
    assert "scores run from" not in message
