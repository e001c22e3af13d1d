"""The study's fixed train/validation/test split of labelled documents.

Made once, seeded and stratified by label set, and kept in study.db, so every later
command (train, evaluate, learning-curve) uses the same test documents. Documents labelled
after the split was made are added by a seeded hash of their id; none ever moves.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from replicoder.errors import ReplicoderError
from replicoder.store import Store
from replicoder.study import TEST_FRACTION, VALIDATION_FRACTION, Study

__all__ = ["PARTS", "TEST_FRACTION", "VALIDATION_FRACTION", "ensure_split", "labelled",
           "split_ids"]

PARTS = ("train", "validation", "test")


def labelled(store: Store) -> dict[str, frozenset[str]]:
    """Label sets of documents with gold or verified labels (gold wins), in import order."""
    gold = store.gold()
    verified_fn = getattr(store, "verified_labels", None)
    verified: dict[str, frozenset[str]] = verified_fn() if verified_fn is not None else {}
    out: dict[str, frozenset[str]] = {}
    for doc_id in store.doc_ids():
        if doc_id in gold:
            out[doc_id] = gold[doc_id]
        elif doc_id in verified:
            out[doc_id] = verified[doc_id]
    return out


def _strata(label_sets: list[frozenset[str]], minimum: int) -> list[str] | None:
    keys = [";".join(sorted(s)) for s in label_sets]
    counts = Counter(keys)
    keys = [k if counts[k] >= minimum else "<rare>" for k in keys]
    counts = Counter(keys)
    if len(counts) < 2 or min(counts.values()) < minimum:
        return None
    return keys


def _cut(ids: list[str], label_sets: list[frozenset[str]], fraction: float, seed: int
         ) -> tuple[list[str], list[str]]:
    """(rest, part) with ``fraction`` of ``ids`` in part, stratified by label set where every
    stratum is large enough."""
    from sklearn.model_selection import train_test_split

    n_part = max(1, round(len(ids) * fraction))
    strata = _strata(label_sets, 2)
    if strata is not None and len(set(strata)) > n_part:
        strata = None
    rest, part = train_test_split(ids, test_size=fraction, random_state=seed, stratify=strata)
    return rest, part


def _fresh_split(ids: list[str], label_sets: list[frozenset[str]], seed: int,
                 fractions: tuple[float, float]) -> dict[str, str]:
    test_share, val_share = fractions
    rest, test = _cut(ids, label_sets, test_share, seed)
    index = {d: i for i, d in enumerate(ids)}
    rest_sets = [label_sets[index[d]] for d in rest]
    train, val = _cut(rest, rest_sets, val_share / (1 - test_share), seed)
    parts = {d: "train" for d in train}
    parts.update({d: "validation" for d in val})
    parts.update({d: "test" for d in test})
    return parts


def _hashed_part(doc_id: str, seed: int, fractions: tuple[float, float]) -> str:
    test_share, val_share = fractions
    u = int(hashlib.sha256(f"{seed}:{doc_id}".encode()).hexdigest()[:12], 16) / 16**12
    if u < test_share:
        return "test"
    return "validation" if u < test_share + val_share else "train"


def ensure_split(study: Study, seed: int | None = None) -> dict[str, str]:
    """doc_id -> "train" | "validation" | "test" for every labelled document.

    The first call makes the split (stratified by label set, ``seed`` or the study's seed,
    the study's ``split_fractions``: 70/10/20 unless set at ``init``) and stores it with
    its fractions; later calls return it, adding newly labelled documents by a seeded hash
    of their id at the stored fractions.
    """
    with study.store() as store:
        sets = labelled(store)
        stored_seed = store.split_seed()
        if stored_seed is not None and seed is not None and seed != stored_seed:
            raise ReplicoderError(
                f"{study.db_path}: the split was made with seed {stored_seed}, not {seed}; "
                "leave the seed out to use it (the test documents must stay the same)"
            )
        existing = store.split_assignments()
        if not sets and not existing:
            raise ReplicoderError(
                f"{study.root}: no labelled documents to split; import a file with --labels "
                "or review LLM proposals first"
            )
        use_seed = stored_seed if stored_seed is not None else (
            study.seed if seed is None else seed)
        new = [d for d in sets if d not in existing]
        if new:
            fractions = store.split_fractions() or study.split_fractions
            if existing:
                parts = {d: _hashed_part(d, use_seed, fractions) for d in new}
            elif len(new) < 5:
                raise ReplicoderError(
                    f"{study.root}: only {len(new)} labelled documents; a train/validation/"
                    "test split needs at least 5 (more for useful training)"
                )
            else:
                parts = _fresh_split(new, [sets[d] for d in new], use_seed, fractions)
            store.add_split(parts, use_seed, fractions)
            existing = store.split_assignments()
    return existing


def split_ids(study: Study, part: str) -> list[str]:
    """Ids of the labelled documents in one part of the split, in import order."""
    if part not in PARTS:
        raise ReplicoderError(f"unknown split part {part!r}; use one of: {', '.join(PARTS)}")
    parts = ensure_split(study)
    with study.store() as store:
        order = store.doc_ids()
    return [d for d in order if parts.get(d) == part]
