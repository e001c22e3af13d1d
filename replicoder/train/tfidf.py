"""``train --with-tfidf``: a TF-IDF + SVM model on the same training documents, its weight
against the fine-tuned classifier chosen on the validation documents.

Its TF-IDF part reads word 1-2 grams and character 2-5 grams within words, C=1: on the bills
reference split it gave the lowest validation log-loss of six variants in the ensemble
(word only or word + characters, C 0.25, 0.5, 1) and added 0.9 points of test accuracy to
the refit model over the word-only part (bench/results/ensemble_tfidf.json).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.models.ensemble import Ensemble, choose_weight, combine
from replicoder.models.tfidf import TfidfSvm
from replicoder.train.data import Example

__all__ = ["C", "CHAR_NGRAMS", "check", "fit_ensemble", "tfidf_part"]


def check(multi_label: bool) -> None:
    """A clear error, before training, where the ensemble cannot be made."""
    if multi_label:
        raise ReplicoderError("--with-tfidf works with single-label codebooks only; train "
                              "this multi-label codebook without it")


C = 1.0
CHAR_NGRAMS = (2, 5)


def tfidf_part(seed: int) -> TfidfSvm:
    """The (unfitted) TF-IDF model of an ensemble."""
    return TfidfSvm(c=C, seed=seed, char_ngrams=CHAR_NGRAMS)


def fit_ensemble(codes: Sequence[str], seed: int, train: list[Example],
                 validation: list[Example], val_probs: np.ndarray,
                 weight: float | None = None) -> tuple[Ensemble, dict[str, Any]]:
    """The ensemble (with ``weight``, or the one validation picks) and what validation said
    of each weight (for metrics.json)."""
    tfidf = tfidf_part(seed).fit([e.text for e in train], [e.labels for e in train],
                                    codes, multi_label=False)
    index = {c: i for i, c in enumerate(codes)}
    truth = np.array([index[next(iter(e.labels))] for e in validation])
    margins = tfidf.decision_function([e.text for e in validation])
    chosen_weight, rows = choose_weight(val_probs, margins, truth)
    weight = chosen_weight if weight is None else weight
    chosen = combine(val_probs, margins, weight).argmax(1)
    return Ensemble(tfidf, weight), {"tfidf_weight": weight,
                                     "ensemble_accuracy": float((chosen == truth).mean()),
                                     "tfidf_weights": rows}
