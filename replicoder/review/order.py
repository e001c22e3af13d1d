"""Review order (issue 30): which document a coder sees next.

- ``default``: documents with LLM proposals first, in import order, then the rest.
- ``random``: a seeded shuffle (the only order whose reviewed part is a random sample).
- ``uncertain``: smallest margin of the current model first: a trained model (``model``)
  or, when none is given, TF-IDF + linear SVM fit on the verified labels so far and
  refitted every ``refresh_every`` decisions (:func:`refresh_if_due`).
- ``disagreement``: most disagreement among the LLM annotators' proposals first (cold
  start: needs no label).
- ``diverse``: batches of ``batch`` documents, each picked from the ``5 * batch`` most
  uncertain left so that they are far apart in TF-IDF space (no batch of near-copies).

Non-random orders put documents with proposals first. Every order and every refit is
recorded in study.db with its inputs (``review_orders``, ``review_order_fits``).
A steered order decides which documents get reviewed first, so the verified documents are
not a random sample: `replicoder estimate` uses only its own random sample
(`review sample`) and refuses an incomplete one reviewed while such an order was in force
(:func:`check_random_review`).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import Codebook
from replicoder.run import now
from replicoder.store import Store, StoredSample
from replicoder.study import Study

__all__ = ["CANDIDATES", "ORDERS", "STEERED", "Ordered", "apply_order", "check_codebook",
           "check_order", "check_random_review", "compute_order", "disagreement", "diverse",
           "fit_scores", "margins", "model_scores", "record_order", "refresh_if_due"]

ORDERS = ("default", "random", "uncertain", "disagreement", "diverse")
STEERED = ("default", "uncertain", "disagreement", "diverse", "audit", "route")
CANDIDATES = 5  # diverse: a batch is chosen among this many times its size


@dataclass(frozen=True)
class Ordered:
    """Documents ranked (first = reviewed first) and what the ranking was computed from."""

    doc_ids: list[str]
    inputs: dict[str, Any]


def check_order(kind: str, refresh_every: int | None, batch: int) -> None:
    if kind not in ORDERS:
        raise ReplicoderError(f"--order {kind}: choose from {', '.join(ORDERS)}")
    if refresh_every is not None and refresh_every < 1:
        raise ReplicoderError(f"--refresh-every {refresh_every}: give a number of decisions "
                              ">= 1, e.g. 50")
    if batch < 1:
        raise ReplicoderError(f"--batch {batch}: give a batch size >= 1, e.g. 20")


def _labels_sha(labels: dict[str, frozenset[str]]) -> str:
    text = json.dumps(sorted((d, sorted(v)) for d, v in labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def margins(scores: np.ndarray, multi_label: bool, threshold: float = 0.0) -> np.ndarray:
    """How sure the model is of each row: single-label, the gap between the two best
    scores; multi-label or graded, the score nearest the decision threshold."""
    if scores.shape[1] < 2 and not multi_label:
        return np.zeros(len(scores))
    if multi_label:
        return np.asarray(np.abs(scores - threshold).min(axis=1))
    finite = np.where(np.isfinite(scores), scores, -1e9)
    top = np.sort(finite, axis=1)[:, -2:]
    return np.asarray(top[:, 1] - top[:, 0])


def check_codebook(book: Codebook, what: str) -> None:
    if len(book.codes) < 2 and not book.multi_label and not book.graded:
        raise ReplicoderError(
            f"{what}: the codebook '{book.name}' has one label and is single-label, so every "
            "document gets that label and there is nothing to rank; add labels to the "
            "codebook, make it multi-label (present/absent), or use --order random")


def fit_scores(book: Codebook, train: dict[str, frozenset[str]], texts: dict[str, str],
               doc_ids: Sequence[str], seed: int) -> tuple[np.ndarray, bool, dict[str, Any]]:
    """TF-IDF + linear SVM fit on ``train`` (doc_id -> labels), scores of ``doc_ids``."""
    from replicoder.models.tfidf import TfidfSvm

    check_codebook(book, "--order uncertain")
    if not train:
        raise ReplicoderError(
            "no verified labels yet, so there is no model to be uncertain with: review some "
            "documents first (start with --order disagreement, which needs only LLM "
            "proposals, or --order random), or give a trained model with --model NAME")
    ids = sorted(train)
    try:
        model = TfidfSvm(seed=seed).fit([texts[d] for d in ids], [train[d] for d in ids],
                                        book.codes, book.multi_label, book.intensities)
    except ReplicoderError as exc:
        raise ReplicoderError(
            f"cannot fit the TF-IDF model on the {len(ids)} verified documents: {exc}. "
            "Review more documents (or use --order disagreement or random until labels of "
            "two codes exist)") from exc
    scores = model.decision_function([texts[d] for d in doc_ids]) if doc_ids else \
        np.zeros((0, len(model.codes)))
    multi = model.multi_label or bool(book.intensities)
    return scores, multi, {"model": "tfidf", **model.params(), "verified": len(ids),
                           "verified_sha256": _labels_sha(train)}


def model_scores(study: Study, name: str, texts: dict[str, str], doc_ids: Sequence[str]
                 ) -> tuple[np.ndarray, bool, dict[str, Any]]:
    """Scores of a trained model (models/NAME) for ``doc_ids``."""
    from replicoder.models.trained import load_trained

    trained = load_trained(study, name)
    pred = trained.predict([texts[d] for d in doc_ids], list(doc_ids))
    assert pred.scores is not None
    multi = trained.multi_label or bool(trained.intensities)
    return np.asarray(pred.scores, dtype=np.float64), multi, {
        "model": name, "adapter_sha256": trained.adapter_sha256}


def disagreement(store: Store, doc_ids: Sequence[str]) -> np.ndarray:
    """Per document, sum over proposed values of p(1-p), p the share of the annotators
    (with a readable answer) that proposed it: 0 when all agree or only one answered."""
    by_doc: dict[str, list[frozenset[str]]] = {}
    for p in store.proposals(list(doc_ids)):
        if p.status == "ok":
            by_doc.setdefault(p.doc_id, []).append(p.labels)
    out = np.zeros(len(doc_ids))
    for i, d in enumerate(doc_ids):
        answers = by_doc.get(d, [])
        if len(answers) < 2:
            continue
        values = set().union(*answers)
        share = np.array([sum(v in a for a in answers) / len(answers) for v in values])
        out[i] = float((share * (1 - share)).sum())
    return out


def _ranked(doc_ids: Sequence[str], key: np.ndarray, seed: int) -> list[str]:
    """``doc_ids`` by ascending ``key``, ties in a seeded random order."""
    tie = np.random.default_rng(seed).random(len(doc_ids))
    return [doc_ids[i] for i in np.lexsort((tie, key))]


def diverse(ranked: Sequence[str], texts: dict[str, str], batch: int) -> list[str]:
    """Batches of ``batch``: each starts with the most uncertain document left and adds,
    among the next CANDIDATES * batch, the one least similar (TF-IDF cosine) to those
    already in the batch."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(ranked) <= 1:
        return list(ranked)
    try:
        x = TfidfVectorizer(sublinear_tf=True).fit_transform([texts[d] for d in ranked])
    except ValueError:  # no words at all: nothing to be diverse about
        return list(ranked)
    left = list(range(len(ranked)))
    out: list[int] = []
    while left:
        pool = left[:CANDIDATES * batch]
        chosen = [pool[0]]
        best = np.asarray((x[pool] @ x[pool[0]].T).todense()).ravel()
        while len(chosen) < min(batch, len(pool)):
            best[[pool.index(c) for c in chosen]] = np.inf
            pick = int(np.argmin(best))
            chosen.append(pool[pick])
            sim = np.asarray((x[pool] @ x[pool[pick]].T).todense()).ravel()
            best = np.maximum(best, sim)
        out += chosen
        taken = set(chosen)
        left = [i for i in left if i not in taken]
    return [ranked[i] for i in out]


def compute_order(study: Study, store: Store, kind: str, doc_ids: Sequence[str], *,
                  seed: int, model: str | None = None, batch: int = 20) -> Ordered:
    """Rank ``doc_ids`` (decided ones first, in their order; then the undecided) by
    ``kind``; non-random orders put documents with proposals first."""
    book = study.codebook
    inputs: dict[str, Any] = {"order": kind, "seed": seed, "documents": len(doc_ids)}
    if kind == "random":
        shuffled = list(doc_ids)
        random.Random(seed).shuffle(shuffled)
        return Ordered(shuffled, inputs)
    proposed = store.proposed_ids()
    if kind == "default":
        return Ordered([d for d in doc_ids if d in proposed]
                       + [d for d in doc_ids if d not in proposed],
                       {**inputs, "proposed_first": True})
    verified = store.verified_labels()
    todo = [d for d in doc_ids if d not in verified]
    done = [d for d in doc_ids if d in verified]
    inputs["already_verified"] = len(done)
    if kind == "disagreement":
        if not proposed:
            raise ReplicoderError(
                "--order disagreement ranks documents by how much the LLM annotators "
                "disagree, but the study has no proposals: run `replicoder annotate` first, "
                "or use --order random")
        key = -disagreement(store, todo)
        ranked = _ranked(todo, key, seed)
        inputs.update({"annotators": store.annotators(),
                       "disagreeing": int((key < 0).sum())})
    else:
        texts = {d.doc_id: d.text for d in store.documents([*todo, *verified])}
        if model:
            check_codebook(book, f"--order {kind}")
            scores, multi, about = model_scores(study, model, texts, todo)
            threshold = 0.5 if multi else 0.0
        else:
            scores, multi, about = fit_scores(book, verified, texts, todo, seed)
            threshold = 0.0
        ranked = _ranked(todo, margins(scores, multi, threshold), seed)
        inputs.update(about)
        if kind == "diverse":
            ranked = diverse(ranked, texts, batch)
            inputs.update({"batch": batch, "candidates": CANDIDATES * batch})
    ranked = [d for d in ranked if d in proposed] + [d for d in ranked if d not in proposed]
    return Ordered(done + ranked, {**inputs, "proposed_first": True})


def apply_order(study: Study, store: Store, run_id: str, kind: str, doc_ids: Sequence[str], *,
                seed: int, model: str | None = None, batch: int = 20,
                refresh_every: int | None = None) -> Ordered:
    """Compute the order (outside any transaction: fitting takes a while), then write the
    queue keys and record the order in one transaction (joining the caller's, if any)."""
    check_order(kind, refresh_every, batch)
    ordered = compute_order(study, store, kind, doc_ids, seed=seed, model=model, batch=batch)
    return record_order(store, run_id, kind, ordered, refresh_every, model)


def record_order(store: Store, run_id: str, kind: str, ordered: Ordered,
                 refresh_every: int | None, model: str | None = None) -> Ordered:
    """Write the queue keys of ``ordered`` and record it with its inputs."""
    refit = refresh_every if kind in ("uncertain", "diverse") and not model else None
    inputs = {**ordered.inputs, "refresh_every": refit}
    with store.transaction():
        store.set_queue_order([] if kind == "default" else ordered.doc_ids)
        store.add_order(run_id, kind, now(precise=True), inputs, refit,
                        store.decision_log_size())
    return Ordered(ordered.doc_ids, inputs)


def refresh_if_due(study: Study, store: Store) -> bool:
    """Refit the TF-IDF model of the order in force and reorder the undecided documents,
    when ``refresh_every`` decisions were logged since its last fit. Returns whether it
    refitted. A refit interrupted half-way leaves the previous order (one transaction)
    and is done again at the next decision; no decision depends on it."""
    orders = store.orders()
    if not orders:
        return False
    current = orders[-1]
    every = current.refresh_every
    if every is None:
        return False
    logged = store.decision_log_size()
    if logged - current.fitted_at < every:
        return False
    verified = store.verified_labels()
    keys = store.queue_keys()
    undecided = sorted((d for d, k in keys.items() if k < (1 << 40) and d not in verified),
                       key=lambda d: keys[d])
    try:
        ordered = compute_order(study, store, current.kind, undecided, seed=study.seed,
                                batch=int(current.inputs.get("batch", 20)))
    except ReplicoderError:
        return False  # e.g. labels of one code so far: keep the order until there are two
    with store.transaction():
        store.rerank(ordered.doc_ids)
        store.add_fit(current.order_id, logged, now(precise=True), ordered.inputs)
    return True


def check_random_review(store: Store, sample: StoredSample, pending: int) -> None:
    """Refuse to use an incompletely reviewed validation sample when a steered order or an
    audit was in force since it was drawn: its verified part is then not a random sample."""
    steered = [o for o in store.orders()
               if o.kind in STEERED and o.created_at >= sample.created_at]
    audited = [f for f in store.findings() if f.doc_id in sample.docs]
    if not steered and not audited:
        return
    what = (f"a {steered[-1].kind!r} review order (run {steered[-1].run_id})" if steered
            else f"a label audit (run {audited[-1].run_id})")
    raise ReplicoderError(
        f"{pending} of the {len(sample.docs)} documents of sample {sample.sample_id} are not "
        f"verified, and {what} steered the review since the sample was drawn, so the verified "
        "part is not a random sample and --allow-incomplete would bias the estimate. Finish "
        "the sample's review (`replicoder review`), or draw a new sample "
        "(`replicoder review sample`) and review it in its own random order")
