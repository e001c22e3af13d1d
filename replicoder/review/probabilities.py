"""Class probabilities from TF-IDF + logistic regression, the quick model review uses where
no trained model is given: the label audit cross-fits it, the uncertain order fits it on the
labels verified so far."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["logistic_probs"]


def logistic_probs(train_texts: Sequence[str], y: np.ndarray, texts: Sequence[str],
                   n_classes: int) -> np.ndarray:
    """(len(texts), n_classes) probabilities from a model fit on ``train_texts`` with class
    indices ``y``: TF-IDF (word 1-2 grams) + one-vs-rest logistic regression (C=10,
    liblinear: 100x faster than the multinomial lbfgs fit on 2 cores), normalised to sum to
    1. A class absent from ``y`` gets a tiny probability; a single class gets all of it."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    probs = np.full((len(texts), n_classes), 1e-6)
    present = np.unique(y)
    if len(present) == 1:
        probs[:, present[0]] = 1.0
    elif len(texts):
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        fit = OneVsRestClassifier(LogisticRegression(C=10.0, solver="liblinear"))
        fit.fit(vec.fit_transform(list(train_texts)), y)
        probs[:, fit.classes_] = fit.predict_proba(vec.transform(list(texts)))
    return np.asarray(probs / probs.sum(axis=1, keepdims=True))
