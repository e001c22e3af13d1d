"""The TF-IDF + linear SVM baseline on real CAP-coded bill titles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paths import BILLS
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.svm import LinearSVC

from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import load
from replicoder.metrics.labelsets import evaluate
from replicoder.models.tfidf import TfidfSvm

CODES = load("cap").codes


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    df = pd.read_csv(BILLS)
    df = df[df.major_topic != 99]
    df["code"] = df.major_topic.astype(str)
    return df


def test_single_label_matches_the_reference_svm(table: pd.DataFrame) -> None:
    train, test = train_test_split(table, test_size=0.2, stratify=table.major_topic,
                                   random_state=0)  # integer codes, as the reference split
    assert (len(train), len(test)) == (1176, 294)
    model = TfidfSvm().fit(list(train.text), [{c} for c in train.code], CODES)
    assert not model.multi_label
    sets, scores = model.predict(list(test.text))
    assert scores.shape == (len(test), len(CODES))
    assert all(len(s) == 1 for s in sets)
    m = evaluate([{c} for c in test.code], sets, CODES)
    # the test slice's split; on the full file's reference split bench/bench_baseline.py
    # measures accuracy 0.800, macro-F1 0.762 (bench/results/baseline.json)
    assert m["subset_accuracy"] == pytest.approx(219 / 294)
    assert m["f1_macro"] == pytest.approx(0.706, abs=0.001)
    # codes absent from training (9 and 23) never win
    assert np.isneginf(scores[:, CODES.index("23")]).all()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    ref = LinearSVC(C=0.5, random_state=0).fit(vec.fit_transform(train.text), train.code)
    assert [next(iter(s)) for s in sets] == list(ref.predict(vec.transform(test.text)))


def test_multi_label_one_vs_rest(table: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    sample = table.sample(1200, random_state=1).reset_index(drop=True)
    texts: list[str] = []
    sets: list[set[str]] = []
    for i in range(len(sample)):  # a third of documents join two titles, two topics
        if rng.random() < 1 / 3:
            k = int(rng.integers(len(sample)))
            texts.append(sample.text[i] + " " + sample.text[k])
            sets.append({sample.code[i], sample.code[k]})
        else:
            texts.append(sample.text[i])
            sets.append({sample.code[i]})
    model = TfidfSvm().fit(texts[:900], sets[:900], CODES)
    assert model.multi_label
    pred, scores = model.predict(texts[900:])
    assert any(len(s) == 2 for s in pred) and any(len(s) == 0 for s in pred)
    m = evaluate(sets[900:], pred, CODES)
    top = max(CODES, key=lambda c: sum(c in s for s in sets[:900]))
    chance = evaluate(sets[900:], [{top}] * 300, CODES)
    assert m["jaccard"] > chance["jaccard"] + 0.2
    assert m["label_accuracy"] > chance["label_accuracy"]
    mlb = MultiLabelBinarizer(classes=CODES)
    y = mlb.fit_transform(sets[:900])
    present = [j for j in range(len(CODES)) if 0 < y[:, j].sum() < len(y)]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    ref = OneVsRestClassifier(LinearSVC(C=0.5, random_state=0)).fit(
        vec.fit_transform(texts[:900]), y[:, present])
    expected = ref.decision_function(vec.transform(texts[900:]))
    np.testing.assert_allclose(scores[:, present], expected, rtol=1e-6, atol=1e-8)
    absent = [j for j in range(len(CODES)) if j not in present]
    assert (scores[:, absent] == -1.0).all()


def test_two_codes_scores_follow_the_prediction() -> None:
    texts = ["tax cut for farms", "farm subsidy act", "hospital funding", "health care act"] * 3
    model = TfidfSvm().fit(texts, [{"4"}, {"4"}, {"3"}, {"3"}] * 3, CODES)
    sets, scores = model.predict(["farm tax", "hospital care"])
    assert sets == [frozenset({"4"}), frozenset({"3"})]
    assert scores[0, CODES.index("4")] > 0 > scores[0, CODES.index("3")]


def test_bad_input() -> None:
    with pytest.raises(ReplicoderError, match="no training documents"):
        TfidfSvm().fit([], [], CODES)
    with pytest.raises(ReplicoderError, match="at least two codes"):
        TfidfSvm().fit(["a", "b"], [{"1"}, {"1"}], CODES)
    with pytest.raises(ReplicoderError, match="document 1 has 2 labels"):
        TfidfSvm().fit(["a", "b"], [{"1"}, {"1", "2"}], CODES, multi_label=False)
    with pytest.raises(ValueError, match="label_sets\\[1\\] has label '99'"):
        TfidfSvm().fit(["a", "b"], [{"1"}, {"99"}], CODES)
    with pytest.raises(ValueError, match="2 texts but 1 label sets"):
        TfidfSvm().fit(["a", "b"], [{"1"}], CODES)
    with pytest.raises(ReplicoderError, match="no words"):
        TfidfSvm().fit(["a", "b"], [{"1"}, {"2"}], CODES)
    with pytest.raises(RuntimeError, match="fit"):
        TfidfSvm().predict(["a"])


@pytest.mark.parametrize("chars", [None, (2, 5)])
def test_saved_baseline_scores_as_the_fitted_one(table: pd.DataFrame, tmp_path: Path,
                                                 chars: tuple[int, int] | None) -> None:
    texts, codes = list(table.text[:600]), [{c} for c in table.code[:600]]
    model = TfidfSvm(char_ngrams=chars).fit(texts, codes, CODES)
    path = tmp_path / "tfidf.npz"
    model.save(path)
    back = TfidfSvm.load(path)
    assert back.codes == CODES and back.params() == model.params()
    assert back.char_ngrams == chars
    new = list(table.text[600:700])
    np.testing.assert_array_equal(back.decision_function(new), model.decision_function(new))


def test_character_ngrams_read_words_never_seen_whole() -> None:
    texts = ["farmers relief act", "agricultural subsidies", "teachers pay act",
             "schools funding", "farm credit", "school lunches"]
    sets = [{"4"}, {"4"}, {"6"}, {"6"}, {"4"}, {"6"}]
    words = TfidfSvm().fit(texts, sets, CODES)
    chars = TfidfSvm(char_ngrams=(2, 5)).fit(texts, sets, CODES)
    unseen = ["agriculture", "schoolteachers"]  # no training word, shared characters
    assert np.ptp(words.decision_function(unseen)[:, [CODES.index("4"), CODES.index("6")]],
                  axis=0).max() == 0  # an empty word vector: the same scores for both
    assert [sorted(s)[0] for s in chars.predict(unseen)[0]] == ["4", "6"]
    assert chars.params()["char_ngrams"] == [2, 5] and "char_ngrams" not in words.params()


def test_load_refuses_a_file_that_is_not_a_saved_baseline(tmp_path: Path) -> None:
    path = tmp_path / "tfidf.npz"
    np.savez(path, terms=np.array([{"pickled": 1}], dtype=object))  # needs a pickle to load
    with pytest.raises(ReplicoderError, match="not a TF-IDF baseline saved by replicoder"):
        TfidfSvm.load(path)
    path.write_text("not a zip")
    with pytest.raises(ReplicoderError, match="not a TF-IDF baseline"):
        TfidfSvm.load(path)
