"""train --with-tfidf: the TF-IDF part is fit, weighted on validation, saved as arrays,
and added to the classifier's scores when the model is loaded back; refit, which trains on
the validation documents too and so takes a fixed weight."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paths import BILLS
from test_splits import make_study
from test_train import quick, tiny  # noqa: F401  (fixture)

from replicoder import importer
from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.hashing import file_sha256
from replicoder.models import load_trained
from replicoder.models.ensemble import choose_weight, combine
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    df = pd.read_csv(BILLS)
    return df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(40)


def multi_label_study(tmp_path: Path, rows: pd.DataFrame) -> study_mod.Study:
    st = study_mod.init(tmp_path / "s", multi_label=True)
    multi = rows.assign(major_topic=[f"{t};5" for t in rows.major_topic])
    multi.to_csv(tmp_path / "m.csv", index=False)
    importer.import_file(st, tmp_path / "m.csv", text="text", id="id", labels="major_topic")
    return st


def test_combine_keeps_probabilities_and_weight_zero_is_the_classifier() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=6).astype(np.float32)
    margins = rng.normal(size=(6, 4))
    margins[:, 3] = -np.inf  # a code no training document carried
    np.testing.assert_allclose(combine(probs, margins, 0.0), probs, rtol=1e-5)
    mixed = combine(probs, margins, 2.0)
    np.testing.assert_allclose(mixed.sum(1), 1.0, rtol=1e-5)
    assert (mixed[:, 3] < probs[:, 3]).all()


def test_choose_weight_follows_whichever_part_is_right() -> None:
    truth = np.array([0, 1, 2, 0, 1, 2])
    right = np.eye(3)[truth] * 2 - 1  # margins that point at the truth
    uniform = np.full((6, 3), 1 / 3)
    weight, rows = choose_weight(uniform, right, truth)
    assert weight > 0 and len(rows) > 1
    confident = np.eye(3)[truth] * 0.98 + 0.01
    weight, _ = choose_weight(confident, -right, truth)  # margins that point away
    assert weight == 0.0


def test_with_tfidf_saves_weights_and_combines_scores(tmp_path: Path, tiny: str,  # noqa: F811
                                                      rows: pd.DataFrame) -> None:
    st = make_study(tmp_path / "s", rows)
    result = train(st, "ens", quick(tiny, epochs=1, with_tfidf=True))
    folder = st.models_dir / "ens"
    meta = json.loads((folder / "ensemble.json").read_text())
    assert meta["tfidf_sha256"] == file_sha256(folder / "tfidf.npz")
    assert result.manifest["tfidf_sha256"] == meta["tfidf_sha256"]
    assert meta["weight"] == result.metrics["tfidf_weight"]
    assert meta["tfidf"]["char_ngrams"] == [2, 5] and meta["tfidf"]["C"] == 1.0
    assert len(result.metrics["tfidf_weights"]) > 1
    model = load_trained(st, "ens")
    assert model.ensemble is not None and model.ensemble.weight == meta["weight"]
    texts, ids = rows.text.tail(12).tolist(), rows.id.astype(str).tail(12).tolist()
    pred = model.predict(texts, ids)
    plain = dataclasses.replace(model, ensemble=None).predict(texts, ids)
    assert pred.scores is not None and plain.scores is not None
    margins = model.ensemble.tfidf.decision_function(texts)
    np.testing.assert_allclose(pred.scores, combine(plain.scores, margins, meta["weight"]),
                               rtol=1e-5)
    (folder / "tfidf.npz").write_bytes(b"changed")
    with pytest.raises(ReplicoderError, match="not the file training wrote"):
        load_trained(st, "ens")


def test_with_tfidf_refuses_generative_and_multi_label(tmp_path: Path, tiny: str,  # noqa: F811
                                                       rows: pd.DataFrame) -> None:
    with pytest.raises(ReplicoderError, match="train with mode 'classifier'"):
        TrainConfig(mode="generative", with_tfidf=True)
    st = multi_label_study(tmp_path, rows)
    with pytest.raises(ReplicoderError, match="single-label codebooks only"):
        train(st, "ml", quick(tiny, epochs=1, with_tfidf=True))
    assert not (st.models_dir / "ml").exists()


def test_refit_trains_on_validation_too_and_keeps_the_last_weights(
        tmp_path: Path, tiny: str, rows: pd.DataFrame) -> None:  # noqa: F811
    st = make_study(tmp_path / "s", rows)
    plain = train(st, "plain", quick(tiny, epochs=2))
    result = train(st, "refit", quick(tiny, epochs=2, refit=True, with_tfidf=True,
                                      tfidf_weight=0.5))
    n_val = plain.manifest["data"]["n_validation"]
    assert result.manifest["data"]["n_train"] == plain.manifest["data"]["n_train"] + n_val
    assert result.metrics["best_step"] == result.metrics["steps"]  # the last, not the best
    assert result.metrics["stopped_early"] is False
    assert any(n.startswith("refit: trained on") for n in result.manifest["notes"])
    saved = json.loads((st.models_dir / "refit" / "metrics.json").read_text())
    assert saved["split"] == "validation (trained on)"
    # refit scores validation once, at the end: no epoch is selected on it
    assert [h["step"] for h in saved["history"]] == [result.metrics["steps"]]
    assert len(json.loads((st.models_dir / "plain" / "metrics.json").read_text())
               ["history"]) == 2
    assert saved["subset_accuracy"] == saved["history"][0]["val_accuracy"]
    model = load_trained(st, "refit")
    assert model.ensemble is not None and model.ensemble.weight == 0.5


def test_refit_refuses_what_needs_unseen_validation(tmp_path: Path, tiny: str,  # noqa: F811
                                                    rows: pd.DataFrame) -> None:
    with pytest.raises(ReplicoderError, match="give tfidf_weight"):
        TrainConfig(refit=True, with_tfidf=True)
    with pytest.raises(ReplicoderError, match="needs with_tfidf"):
        TrainConfig(tfidf_weight=0.5, with_tfidf=False)
    st = multi_label_study(tmp_path, rows)
    with pytest.raises(ReplicoderError, match="refit works with single-label"):
        train(st, "ml", quick(tiny, epochs=1, refit=True))
    with pytest.raises(ReplicoderError, match="this codebook is multi-label"):
        train(st, "ml", quick(tiny, epochs=1, label_smoothing=0.1))
    assert not (st.models_dir / "ml").exists()
