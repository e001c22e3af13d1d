"""`replicoder review audit` (issue 30): gold or verified labels that are probably wrong.

Out-of-sample probabilities come from k-fold cross-fitting (TF-IDF + logistic regression,
each fold's documents scored by a model fit on the other folds) or from a trained model on
the documents it was not trained on. Confident learning (Northcutt, Jiang and Chuang, JAIR
2021; the ``cleanlab`` package, Apache-2.0, pure Python) flags a label when the model puts
the document, with more than the class's own average confidence, in another class and the
estimated noise rates leave room for it (``prune_by_noise_rate``). Findings are ranked by
how sure they are (lowest self-confidence, the probability of the given label, first) and
the top ones are queued for a second coder; the original decision stays in study.db and a
disagreement goes to adjudication as usual.

Multi-label codebooks: each code present/absent is judged (cleanlab's multi-label
filter). Graded codebooks: each label's intensity (or its absence) is one class problem.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.labels import graded
from replicoder.labels.codebook import Codebook
from replicoder.review.session import check_name
from replicoder.run import Run, now
from replicoder.store import Store
from replicoder.store.orders import Finding
from replicoder.study import Study

__all__ = ["SOURCES", "AuditResult", "Judged", "audit", "audit_labels", "cross_fit", "describe",
           "flagged_ranking", "judge", "queue_for", "second_coders"]

SOURCES = ("both", "verified", "gold")


@dataclass(frozen=True)
class AuditResult:
    run_id: str
    audited: int
    flagged: int
    queued: list[Finding]
    skipped: int
    out: str


@dataclass(frozen=True)
class Judged:
    """Per document: self-confidence (probability of its label, lowest over a multi-label
    or graded document's parts), whether confident learning flags it, the model's labels."""

    quality: np.ndarray
    flagged: np.ndarray
    suggested: list[frozenset[str]]


def audit_labels(study: Study, store: Store, source: str
                 ) -> tuple[dict[str, frozenset[str]], dict[str, str], dict[str, str]]:
    """(doc_id -> labels, doc_id -> 'verified' or 'gold', doc_id -> who decided)."""
    if source not in SOURCES:
        raise ReplicoderError(f"--labels {source}: choose from {', '.join(SOURCES)}")
    labels: dict[str, frozenset[str]] = {}
    kind: dict[str, str] = {}
    who: dict[str, str] = {}
    if source in ("both", "gold"):
        for d, g in store.gold().items():
            labels[d], kind[d], who[d] = g, "gold", "gold"
    if source in ("both", "verified"):
        for v in store.verified():
            labels[v.doc_id], kind[v.doc_id], who[v.doc_id] = v.labels, "verified", v.decided_by
    if not labels:
        raise ReplicoderError(
            f"{study.root}: no {'gold or verified' if source == 'both' else source} labels to "
            "audit: import a file with --labels, or review documents with `replicoder review`")
    return labels, kind, who


def _targets(book: Codebook, labels: Sequence[frozenset[str]]) -> list[np.ndarray]:
    """One class vector per problem: single-label, the code's index; multi-label, one 0/1
    vector per code; graded, per label 0 (absent) or 1 + the intensity's index."""
    if book.graded:
        out = []
        for code in book.codes:
            y = np.zeros(len(labels), dtype=np.int64)
            for i, s in enumerate(labels):
                for v in s:
                    c, level = graded.split(v)
                    if c == code and level in book.intensities:
                        y[i] = 1 + book.intensities.index(level)
            out.append(y)
        return out
    index = {c: j for j, c in enumerate(book.codes)}
    if book.multi_label:
        return [np.array([int(c in s) for s in labels]) for c in book.codes]
    return [np.array([index[min(s, key=lambda c: index.get(c, 0))] if s else -1
                      for s in labels], dtype=np.int64)]


def cross_fit(texts: Sequence[str], y: np.ndarray, n_classes: int, folds: int, seed: int
              ) -> np.ndarray:
    """Out-of-sample class probabilities (n, n_classes) by k-fold TF-IDF + logistic
    regression (one vs rest, liblinear: 100x faster than the multinomial lbfgs fit on
    2 cores, normalised to sum to 1); a class absent from a fold's training part gets a
    tiny probability."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.multiclass import OneVsRestClassifier

    probs = np.full((len(texts), n_classes), 1e-6)
    x_all = np.asarray(texts, dtype=object)
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(x_all):
        present = np.unique(y[train])
        if len(present) == 1:
            probs[test, present[0]] = 1.0
        else:
            vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
            fit = OneVsRestClassifier(LogisticRegression(C=10.0, solver="liblinear"))
            fit.fit(vec.fit_transform(x_all[train]), y[train])
            probs[np.ix_(test, fit.classes_)] = fit.predict_proba(vec.transform(x_all[test]))
    return np.asarray(probs / probs.sum(axis=1, keepdims=True))


def judge(book: Codebook, y: list[np.ndarray], probs: list[np.ndarray]) -> Judged:
    """Confident learning over each problem; a document's findings combined."""
    with warnings.catch_warnings():  # cleanlab warns about rare classes; they are kept
        warnings.simplefilter("ignore", UserWarning)
        return _judge(book, y, probs)


def _judge(book: Codebook, y: list[np.ndarray], probs: list[np.ndarray]) -> Judged:
    from cleanlab.filter import find_label_issues

    n = len(y[0])
    quality = np.ones(n)
    flagged = np.zeros(n, dtype=bool)
    if book.multi_label and not book.graded:
        from cleanlab.multilabel_classification.filter import find_label_issues as multi

        p = np.stack([pr[:, 1] for pr in probs], axis=1)
        given = np.stack(y, axis=1)
        lists = [list(np.flatnonzero(row)) for row in given]
        if given.sum(0).min() > 0 and (given.sum(0) < n).all():
            flagged = np.asarray(multi(lists, p, n_jobs=1), dtype=bool)
        quality = np.where(given == 1, p, 1 - p).min(axis=1)
        return Judged(quality, flagged, [frozenset(book.codes[j] for j in np.flatnonzero(r >= .5))
                                         for r in p])
    best: list[np.ndarray] = []
    for yk, pk in zip(y, probs, strict=True):
        used = np.unique(yk)
        if len(used) > 1:  # cleanlab needs every class of pred_probs among the labels
            cols = pk[:, used] / pk[:, used].sum(axis=1, keepdims=True)
            local = np.searchsorted(used, yk)
            flagged |= np.asarray(find_label_issues(local, cols, n_jobs=1), dtype=bool)
        quality = np.minimum(quality, pk[np.arange(n), yk])
        best.append(pk.argmax(axis=1))
    if book.graded:
        suggested = [frozenset(f"{c}{graded.GRADE_SEP}{book.intensities[b[i] - 1]}"
                               for c, b in zip(book.codes, best, strict=True) if b[i] > 0)
                     for i in range(n)]
    else:
        suggested = [frozenset([book.codes[int(best[0][i])]]) for i in range(n)]
    return Judged(quality, flagged, suggested)


def _out_of_sample(study: Study, name: str) -> set[str]:
    """Labelled documents models/NAME was not trained on (test, and validation unless it
    was refitted on it)."""
    from replicoder.models.folder import ModelFolder
    from replicoder.splits import ensure_split

    settings = ModelFolder.of(study.models_dir, name).require().settings()
    parts = ensure_split(study)
    skip = {"train", "validation"} if settings.get("refit") else {"train"}
    return {d for d, part in parts.items() if part not in skip}


def _model_probs(study: Study, name: str, book: Codebook, texts: Sequence[str]
                 ) -> list[np.ndarray]:
    from replicoder.models.trained import load_trained

    trained = load_trained(study, name)
    scores = np.asarray(trained.predict(list(texts), [str(i) for i in range(len(texts))]).scores,
                        dtype=np.float64).clip(1e-6, 1.0)
    if book.graded:
        k = len(book.intensities)
        out = []
        for j in range(len(book.codes)):
            part = scores[:, j * k:(j + 1) * k]
            absent = np.clip(1.0 - part.max(axis=1), 1e-6, 1.0)
            both = np.column_stack([absent, part])
            out.append(both / both.sum(axis=1, keepdims=True))
        return out
    if book.multi_label:
        return [np.column_stack([1 - scores[:, j], scores[:, j]]) for j in range(len(book.codes))]
    return [scores / scores.sum(axis=1, keepdims=True)]


def second_coders(store: Store, doc_ids: Sequence[str], coder: str | None
                  ) -> tuple[dict[str, str], int]:
    """A second coder per document: ``coder`` unless they decided it already (then it is
    skipped), else the assigned coder with the fewest findings who did not decide it."""
    decided = store.decisions_by_doc()
    pool = [coder] if coder else [c for c in store.coders()]
    if not pool:
        raise ReplicoderError(
            "no second coder: give one with --coder NAME (nobody has reviewed or been "
            "assigned documents yet)")
    load: Counter[str] = Counter({c: 0 for c in pool})
    out: dict[str, str] = {}
    for d in doc_ids:
        free = [c for c in pool if c not in decided.get(d, {})]
        if free:
            who = min(free, key=lambda c: (load[c], pool.index(c)))
            out[d] = who
            load[who] += 1
    return out, len(doc_ids) - len(out)


def queue_for(store: Store, chosen: dict[str, str], stamp: str) -> None:
    """Assign each document to its second coder, first in their queue, keeping every
    other assignment. In a study without assignments, each decided document is first
    assigned to the coders who decided it and each undecided one to every coder, so that
    no queue shrinks."""
    if not store.assignments():
        decided = store.decisions_by_doc()
        everyone = store.coders()
        pairs = [(d, c) for d in store.doc_ids()
                 for c in (sorted(decided[d]) if d in decided else everyone)]
        store.add_assignments(pairs, stamp)
    store.add_assignments(chosen.items(), stamp)
    keys = store.queue_keys()
    low = min(keys.values(), default=0)
    store.set_keys({d: low - len(chosen) + i for i, d in enumerate(chosen)})


@dataclass(frozen=True)
class _Labelled:
    """The audited documents (``ids`` sorted) with their texts and labels, where each label
    came from ('verified' or 'gold') and who decided it."""

    ids: list[str]
    texts: list[str]
    labels: dict[str, frozenset[str]]
    kind: dict[str, str]
    who: dict[str, str]


def audit(study: Study, *, model: str | None = None, top: int = 50, folds: int = 5,
          source: str = "both", coder: str | None = None, seed: int | None = None,
          queue: bool = True) -> AuditResult:
    """Find probably wrong labels, write findings.csv to runs/<id>/ and queue the ``top``
    flagged ones (most sure first) for a second coder."""
    book = study.codebook
    seed = study.seed if seed is None else seed
    _check_request(book, top, folds, coder)
    docs = _labelled(study, book, source, model, folds)
    y = _targets(book, [docs.labels[d] for d in docs.ids])
    if not book.multi_label and not book.graded and len(np.unique(y[0])) < 2:
        raise ReplicoderError(
            f"all {len(docs.ids)} labelled documents carry the same code, so no model can "
            "say one is wrong; review documents of other codes first")
    if model:
        probs = _model_probs(study, model, book, docs.texts)
    else:
        probs = _cross_fitted(book, docs.texts, y, folds, seed)
    judged = judge(book, y, probs)
    order = _ranking(judged)
    flagged = [docs.ids[i] for i in order if judged.flagged[i]]
    run = Run.start(study, "review-audit")
    out = run.dir / "findings.csv"
    atomic.write_text(out, _findings_csv(docs, judged, order))
    queued, skipped = [], 0
    with study.store() as store:
        if queue and flagged:
            chosen, skipped = second_coders(store, flagged[:top], coder)
            queued = _findings(run.run_id, docs, judged, order, chosen)
        with store.transaction():
            if queued:
                _queue(store, run.run_id, queued, model)
            run.write({"model": model or "tfidf+logistic (cross-fitted)", "folds": folds,
                       "seed": seed, "labels": source, "audited": len(docs.ids),
                       "flagged": len(flagged), "top": top, "queued": len(queued),
                       "skipped_no_second_coder": skipped,
                       "method": "confident learning (cleanlab find_label_issues, "
                                 "prune_by_noise_rate), ranked by self-confidence",
                       "output": run.relative(out)}, store=store)
    return AuditResult(run.run_id, len(docs.ids), len(flagged), queued, skipped,
                       run.relative(out))


def _check_request(book: Codebook, top: int, folds: int, coder: str | None) -> None:
    """Refuse settings and codebooks an audit cannot work with."""
    if top < 1 or folds < 2:
        raise ReplicoderError("--top must be >= 1 and --folds >= 2")
    if coder is not None:
        check_name(coder)
    if len(book.codes) < 2 and not book.multi_label and not book.graded:
        raise ReplicoderError(
            f"the codebook '{book.name}' has one label and is single-label: every document "
            "carries it, so no label can be wrong; nothing to audit")


def _labelled(study: Study, book: Codebook, source: str, model: str | None,
              folds: int) -> _Labelled:
    """The documents to audit: labelled from ``source``, out of ``model``'s training data,
    and (single-label) carrying exactly one code; enough of them for ``folds``."""
    with study.store() as store:
        labels, kind, who = audit_labels(study, store, source)
        if model:
            keep = _out_of_sample(study, model)
            labels = {d: v for d, v in labels.items() if d in keep}
            if not labels:
                raise ReplicoderError(
                    f"every labelled document was used to train models/{model}, so it has no "
                    "out-of-sample probabilities for any; audit without --model (TF-IDF "
                    "cross-fitting)")
        if not book.multi_label and not book.graded:  # "no label applies" has no class
            labels = {d: v for d, v in labels.items() if len(v) == 1 and next(iter(v)) in book}
        ids = sorted(labels)
        texts = [d.text for d in store.documents(ids)]
    if len(ids) < 2 * folds:
        raise ReplicoderError(
            f"{len(ids)} labelled documents are too few to cross-fit {folds} folds (at least "
            f"{2 * folds}); review more documents or use fewer --folds")
    return _Labelled(ids, texts, labels, kind, who)


def _cross_fitted(book: Codebook, texts: Sequence[str], y: list[np.ndarray], folds: int,
                  seed: int) -> list[np.ndarray]:
    """Out-of-sample probabilities of each class problem by TF-IDF cross-fitting."""
    sizes = [1 + len(book.intensities)] * len(book.codes) if book.graded else \
        [2] * len(book.codes) if book.multi_label else [len(book.codes)]
    return [cross_fit(texts, yk, k, folds, seed) for yk, k in zip(y, sizes, strict=True)]


def _ranking(judged: Judged) -> np.ndarray:
    """Flagged documents first, then by self-confidence (lowest first)."""
    return np.lexsort((np.arange(len(judged.quality)), judged.quality, ~judged.flagged))


def _findings_csv(docs: _Labelled, judged: Judged, order: np.ndarray) -> str:
    """Every audited document in ranking order, as CSV."""
    rows = [{"rank": r + 1, "doc_id": docs.ids[i], "source": docs.kind[docs.ids[i]],
             "labels": ";".join(sorted(docs.labels[docs.ids[i]])),
             "suggested": ";".join(sorted(judged.suggested[i])),
             "self_confidence": round(float(judged.quality[i]), 6),
             "flagged": bool(judged.flagged[i]), "decided_by": docs.who[docs.ids[i]]}
            for r, i in enumerate(order)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _findings(run_id: str, docs: _Labelled, judged: Judged, order: np.ndarray,
              chosen: dict[str, str]) -> list[Finding]:
    """A finding per document given a second coder."""
    pos = {docs.ids[i]: r for r, i in enumerate(order)}
    out = []
    for d, second in chosen.items():
        i = docs.ids.index(d)
        out.append(Finding(run_id, d, pos[d] + 1, docs.kind[d], docs.labels[d],
                           judged.suggested[i], float(judged.quality[i]), docs.who[d], second))
    return out


def _queue(store: Store, run_id: str, queued: list[Finding], model: str | None) -> None:
    """Queue the findings for their second coders and record the review order."""
    stamp = now(precise=True)
    queue_for(store, {f.doc_id: f.second_coder for f in queued}, stamp)
    store.add_findings(queued)
    store.add_order(run_id, "audit", stamp, {"findings": len(queued), "model": model or "tfidf"},
                    None, store.decision_log_size())


def flagged_ranking(book: Codebook, texts: Sequence[str], labels: Sequence[frozenset[str]],
                    folds: int = 5, seed: int = 0) -> tuple[list[int], np.ndarray]:
    """Pure core for benchmarks: indices of flagged documents, most sure first, and the
    whole ranking (flagged first, then by self-confidence)."""
    y = _targets(book, labels)
    judged = judge(book, y, _cross_fitted(book, texts, y, folds, seed))
    order = _ranking(judged)
    return [int(i) for i in order if judged.flagged[i]], order


def describe(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    return [{"doc_id": f.doc_id, "labels": sorted(f.labels), "suggested": sorted(f.suggested),
             "self_confidence": f.quality, "second_coder": f.second_coder} for f in findings]
