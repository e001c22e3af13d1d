"""The built-in baseline: TF-IDF (word 1-2 grams, sublinear tf) + linear SVM (C=0.5).

Single-label codebooks: one multi-class LinearSVC, the top-scoring code wins.
Multi-label codebooks: one LinearSVC per code (one vs rest), every code with score > 0.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from replicoder.errors import ReplicoderError
from replicoder.metrics import indicator
from replicoder.models.decide import decide_graded, outputs

__all__ = ["NAME", "TfidfSvm"]

NAME = "tfidf"


class TfidfSvm:
    """sklearn-style baseline: ``fit(texts, label_sets, codes)``, then ``predict(texts)``."""

    def __init__(self, c: float = 0.5, ngram_range: tuple[int, int] = (1, 2),
                 sublinear_tf: bool = True, seed: int = 0) -> None:
        self.c = c
        self.ngram_range = ngram_range
        self.sublinear_tf = sublinear_tf
        self.seed = seed
        self.codes: list[str] = []
        self.multi_label = False
        self.labels: list[str] = []  # graded: the label codes (``codes`` are the values)
        self.intensities: list[str] = []
        self.one_per_document = False
        self._vectorizer: TfidfVectorizer | None = None
        self._svms: list[LinearSVC | float] = []  # multi-label: a model or a constant score
        self._svm: LinearSVC | None = None

    def params(self) -> dict[str, Any]:
        """What a manifest needs to rebuild this baseline."""
        return {"model": "TF-IDF + LinearSVC", "C": self.c, "ngram_range": list(self.ngram_range),
                "sublinear_tf": self.sublinear_tf, "seed": self.seed,
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
