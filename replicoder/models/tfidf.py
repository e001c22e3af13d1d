"""The built-in baseline: TF-IDF (word 1-2 grams, sublinear tf) + linear SVM (C=0.5).

``char_ngrams`` adds character n-grams within words (sklearn's ``char_wb``) to the word
features: ``train --with-tfidf`` uses them (see ``replicoder.train.tfidf``), the
``evaluate --baseline tfidf`` comparison keeps the plain word model.

Single-label codebooks: one multi-class LinearSVC, the top-scoring code wins.
Multi-label codebooks: one LinearSVC per code (one vs rest), every code with score > 0.
A fitted single-label baseline saves to and loads from a plain .npz (arrays only, never a
pickle: a model folder may come from someone else).
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.metrics.labelsets import indicator
from replicoder.models.decide import decide_graded, outputs

__all__ = ["NAME", "TfidfSvm"]

NAME = "tfidf"


class TfidfSvm:
    """sklearn-style baseline: ``fit(texts, label_sets, codes)``, then ``predict(texts)``."""

    def __init__(self, c: float = 0.5, ngram_range: tuple[int, int] = (1, 2),
                 sublinear_tf: bool = True, seed: int = 0,
                 char_ngrams: tuple[int, int] | None = None) -> None:
        self.c = c
        self.ngram_range = ngram_range
        self.char_ngrams = char_ngrams
        self.sublinear_tf = sublinear_tf
        self.seed = seed
        self.codes: list[str] = []
        self.multi_label = False
        self.labels: list[str] = []  # graded: the label codes (``codes`` are the values)
        self.intensities: list[str] = []
        self.one_per_document = False
        self._vectorizer: TfidfVectorizer | None = None
        self._chars: TfidfVectorizer | None = None
        self._svms: list[LinearSVC | float] = []  # multi-label: a model or a constant score
        self._svm: LinearSVC | None = None

    def params(self) -> dict[str, Any]:
        """What a manifest needs to rebuild this baseline."""
        chars = {"char_ngrams": list(self.char_ngrams)} if self.char_ngrams else {}
        return {"model": "TF-IDF + LinearSVC", "C": self.c, "ngram_range": list(self.ngram_range),
                **chars, "sublinear_tf": self.sublinear_tf, "seed": self.seed,
                "multi_label": self.multi_label, "scikit-learn": sklearn.__version__}

    def _svc(self) -> LinearSVC:
        return LinearSVC(C=self.c, random_state=self.seed)

    def fit(self, texts: Sequence[str], label_sets: Sequence[Collection[str]],
            codes: Sequence[str], multi_label: bool | None = None,
            intensities: Sequence[str] = ()) -> TfidfSvm:
        """Train on ``texts`` with their label sets; ``multi_label`` None: infer from the sets.

        ``intensities`` (a graded codebook): the sets hold ``code:intensity`` values; one
        SVM per value, and ``predict`` keeps each label's best intensity
        (:func:`replicoder.models.decide.decide_graded`, threshold 0).
        """
        if intensities:
            self.labels, self.intensities = list(codes), list(intensities)
            self.one_per_document = multi_label is False
            codes, multi_label = outputs(codes, intensities), True
        if len(texts) != len(label_sets):
            raise ValueError(f"{len(texts)} texts but {len(label_sets)} label sets")
        if not texts:
            raise ReplicoderError("the TF-IDF baseline has no training documents")
        y = indicator(label_sets, codes, "label_sets")
        self.codes = list(codes)
        self.multi_label = bool((y.sum(1) != 1).any()) if multi_label is None else multi_label
        if not self.multi_label:
            bad = np.flatnonzero(y.sum(1) != 1)
            if bad.size:
                raise ReplicoderError(
                    f"single-label training document {int(bad[0])} has "
                    f"{int(y[bad[0]].sum())} labels ({bad.size} such documents); give each "
                    "exactly one, or make the codebook multi-label"
                )
            if len(set(y.argmax(1).tolist())) < 2:
                raise ReplicoderError(
                    "the TF-IDF baseline needs training documents of at least two codes; "
                    f"all {len(texts)} carry code {self.codes[int(y[0].argmax())]}"
                )
        self._vectorizer = TfidfVectorizer(ngram_range=self.ngram_range,
                                           sublinear_tf=self.sublinear_tf)
        try:
            x = self._vectorizer.fit_transform(texts)
        except ValueError as exc:  # "empty vocabulary"
            raise ReplicoderError(
                f"the TF-IDF baseline found no words of 2+ letters in the {len(texts)} "
                f"training texts ({exc})"
            ) from exc
        if self.char_ngrams:
            self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=self.char_ngrams,
                                          sublinear_tf=self.sublinear_tf)
            x = sparse.hstack([x, self._chars.fit_transform(texts)]).tocsr()
        if self.multi_label:
            self._svms = [self._svc().fit(x, y[:, j]) if 0 < y[:, j].sum() < len(y)
                          else (1.0 if y[:, j].all() else -1.0) for j in range(len(codes))]
        else:
            self._svm = self._svc().fit(x, y.argmax(1))
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Scores (n_texts, n_codes), columns in ``codes`` order; -inf for unseen codes."""
        if self._vectorizer is None:
            raise RuntimeError("call fit() before predicting")
        x = self._vectorizer.transform(texts)
        if self._chars is not None:
            x = sparse.hstack([x, self._chars.transform(texts)]).tocsr()
        scores = np.full((len(texts), len(self.codes)), -np.inf)
        if self.multi_label:
            for j, svm in enumerate(self._svms):
                scores[:, j] = svm if isinstance(svm, float) else svm.decision_function(x)
            return scores
        assert self._svm is not None
        raw = self._svm.decision_function(x)
        classes = self._svm.classes_
        if len(classes) == 2:  # binary LinearSVC gives one column: positive = second class
            scores[:, classes[1]] = raw
            scores[:, classes[0]] = -raw
        else:
            scores[:, classes] = raw
        return scores

    def predict(self, texts: Sequence[str]) -> tuple[list[frozenset[str]], np.ndarray]:
        """Label sets and the scores (n_texts, n_codes) they come from."""
        scores = self.decision_function(texts)
        if self.intensities:
            return decide_graded(scores, self.labels, self.intensities,
                                 not self.one_per_document, np.zeros(len(self.labels))), scores
        if self.multi_label:
            sets = [frozenset(self.codes[j] for j in np.flatnonzero(row > 0)) for row in scores]
        else:
            sets = [frozenset([self.codes[int(j)]]) for j in scores.argmax(1)]
        return sets, scores

    def save(self, path: Path) -> None:
        """Write the fitted single-label baseline as arrays (vocabulary, idf, SVM weights)."""
        if self._vectorizer is None or self._svm is None:
            raise RuntimeError("only a fitted single-label baseline can be saved")
        arrays: dict[str, Any] = dict(
            terms=_terms(self._vectorizer), idf=self._vectorizer.idf_,
            coef=self._svm.coef_, intercept=self._svm.intercept_,
            classes=self._svm.classes_, codes=np.array(self.codes, dtype=str),
            c=np.array(self.c), ngram_range=np.array(self.ngram_range),
            sublinear_tf=np.array(self.sublinear_tf), seed=np.array(self.seed))
        if self._chars is not None and self.char_ngrams:
            arrays.update(char_terms=_terms(self._chars), char_idf=self._chars.idf_,
                          char_ngrams=np.array(self.char_ngrams))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic.write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> TfidfSvm:
        """A baseline written by ``save``; a clear error for anything else."""
        try:
            with np.load(path, allow_pickle=False) as z:
                a = {k: z[k] for k in z.files}
            chars = ((int(a["char_ngrams"][0]), int(a["char_ngrams"][1]))
                     if "char_ngrams" in a else None)
            model = cls(float(a["c"]), (int(a["ngram_range"][0]), int(a["ngram_range"][1])),
                        bool(a["sublinear_tf"]), int(a["seed"]), chars)
            model.codes = [str(c) for c in a["codes"]]
            vec = _vectorizer(a["terms"], a["idf"], ngram_range=model.ngram_range,
                              sublinear_tf=model.sublinear_tf)
            if chars:
                model._chars = _vectorizer(a["char_terms"], a["char_idf"], analyzer="char_wb",
                                           ngram_range=chars, sublinear_tf=model.sublinear_tf)
            svm = model._svc()
            svm.coef_, svm.intercept_, svm.classes_ = a["coef"], a["intercept"], a["classes"]
            svm.n_features_in_ = svm.coef_.shape[1]
        except (OSError, KeyError, ValueError, IndexError) as exc:
            raise ReplicoderError(
                f"{path}: not a TF-IDF baseline saved by replicoder ({exc}); train the "
                "model again"
            ) from exc
        model._vectorizer, model._svm = vec, svm
        return model


def _terms(vectorizer: TfidfVectorizer) -> np.ndarray:
    """The vocabulary as an array of strings, in column order."""
    vocab = vectorizer.vocabulary_
    terms = np.empty(len(vocab), dtype=object)
    for term, j in vocab.items():
        terms[j] = term
    return terms.astype(str)


def _vectorizer(terms: np.ndarray, idf: np.ndarray, **kwargs: Any) -> TfidfVectorizer:
    """A fitted vectorizer rebuilt from saved arrays."""
    vec = TfidfVectorizer(vocabulary={str(t): j for j, t in enumerate(terms)}, **kwargs)
    vec.idf_ = idf
    return vec
