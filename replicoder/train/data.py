"""Training data: labelled examples from the study, label matrices and length-bucketed batches."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.splits import ensure_split, split_ids
from replicoder.store import Store
from replicoder.study import Study
from replicoder.train.config import TrainConfig

__all__ = ["Example", "data_sha256", "examples", "gather", "source_labels", "train_batches"]


@dataclass(frozen=True)
class Example:
    doc_id: str
    text: str
    labels: frozenset[str]


def source_labels(store: Store, source: str) -> dict[str, frozenset[str]]:
    """Label sets from gold labels or from the reviewers' verified labels."""
    if source == "gold":
        return store.gold()
    verified = getattr(store, "verified_labels", None)
    if verified is None:
        raise ReplicoderError(
            "verified labels are not available in this version; train with --from gold"
        )
    result: dict[str, frozenset[str]] = verified()
    return result


def examples(study: Study, ids: Sequence[str], source: str) -> list[Example]:
    """The documents among ``ids`` that carry labels of ``source``, in the order given."""
    with study.store() as store:
        labels = source_labels(store, source)
        docs = store.documents([d for d in ids if d in labels])
    return [Example(d.doc_id, d.text, labels[d.doc_id]) for d in docs]


def gather(study: Study, config: TrainConfig, train_ids: Sequence[str] | None = None
           ) -> tuple[list[Example], list[Example], list[str]]:
    """(train, validation, notes): examples of the study's split (or ``train_ids`` for
    training) and notes on what was adjusted (a ``train_size`` above the labelled training
    documents is capped to all of them, as learning-curve caps its sizes)."""
    with study.store() as store:
        if store.count_documents() == 0:
            raise ReplicoderError(
                f"{study.root}: the study has no documents; add some with `replicoder import`"
            )
        labels = source_labels(store, config.source)
    if not labels:
        how = "import a file with --labels" if config.source == "gold" else "review proposals"
        raise ReplicoderError(
            f"{study.root}: no documents with {config.source} labels to train on; {how}"
        )
    ensure_split(study)
    ids = list(train_ids) if train_ids is not None else split_ids(study, "train")
    train = examples(study, ids, config.source)
    if train_ids is not None and len(train) < len(set(train_ids)):
        missing = sorted(set(train_ids) - {e.doc_id for e in train})
        raise ReplicoderError(
            f"{len(missing)} training documents have no {config.source} labels "
            f"(first: {missing[0]!r}); pass only labelled documents"
        )
    notes: list[str] = []
    if config.train_size is not None and config.train_size >= len(train):
        if config.train_size > len(train):
            notes.append(f"--train-size {config.train_size} is more than the {len(train)} "
                         f"labelled training documents: trained on all {len(train)}")
    elif config.train_size is not None:
        rng = np.random.default_rng(config.seed)
        keep = sorted(rng.choice(len(train), size=config.train_size, replace=False).tolist())
        train = [train[i] for i in keep]
    validation = examples(study, split_ids(study, "validation"), config.source)
    if len(train) < 2:
        raise ReplicoderError(f"only {len(train)} labelled training documents; label more")
    if not validation:
        raise ReplicoderError("no labelled validation documents; label more documents")
    return train, validation, notes


def data_sha256(items: Sequence[Example]) -> str:
    """One hash over (id, text, labels) of every example, order-independent."""
    digest = hashlib.sha256()
    for ex in sorted(items, key=lambda e: e.doc_id):
        digest.update(json.dumps([ex.doc_id, ex.text, sorted(ex.labels)]).encode())
    return digest.hexdigest()


def train_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int
                  ) -> list[list[int]]:
    """Index batches for one epoch: shuffled, then bucketed by length within pools of
    50 batches (little padding, still random), then the batch order shuffled."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool].tolist(), key=lambda i: lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]

