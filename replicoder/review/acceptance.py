"""Per-annotator acceptance rates: the share of an annotator's proposed labels that coders
accepted, with a Wilson 95% interval; and coder agreement on those accept decisions.

Counted per proposed label per coder who judged it. Judgements imported with the rows of
an outside study (``replicoder import-proposals``) count row by row, as the source did
(repeated proposals and second thoughts included); decisions made in the app count each
label shown to the coder once per annotator that proposed it (accepted = kept).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from replicoder.store import Store

__all__ = ["Acceptance", "AcceptAgreement", "acceptance_rates", "accept_agreement",
           "acceptance_data", "wilson"]

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Acceptance:
    annotator: str
    accepted: int
    n: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.accepted / self.n if self.n else math.nan


@dataclass(frozen=True)
class AcceptAgreement:
    """Agreement between coders on (document, label) accept decisions, over documents
    judged by two or more coders: Krippendorff's alpha (nominal) with its bootstrap
    interval, the share of pairable (document, label) units on which all agree."""

    documents: int
    units: int
    alpha: float | None
    interval: tuple[float, float] | None
    all_agree: float | None


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _counts(store: Store) -> tuple[Counter[str], Counter[str]]:
    accepted: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    imported: set[tuple[str, str]] = set()
    for j in store.judgements():
        imported.add((j.doc_id, j.coder))
        shown[j.annotator] += 1
        accepted[j.annotator] += j.accepted
    for d in store.decisions():
        if (d.doc_id, d.coder) in imported:
            continue
        for label, annotators in d.proposed.items():
            for annotator in annotators:
                shown[annotator] += 1
                accepted[annotator] += label in d.kept
    return accepted, shown


def acceptance_rates(store: Store) -> list[Acceptance]:
    """One row per annotator whose proposals a coder judged, by name."""
    accepted, shown = _counts(store)
    return [Acceptance(a, accepted[a], shown[a], *wilson(accepted[a], shown[a]))
            for a in sorted(shown)]


def _judged(store: Store) -> dict[str, dict[str, dict[str, bool]]]:
    """doc -> coder -> label -> accepted, from each coder's current decision."""
    out: dict[str, dict[str, dict[str, bool]]] = {}
    for d in store.decisions():
        if d.unclear and not d.proposed:
            continue
        out.setdefault(d.doc_id, {})[d.coder] = {lab: lab in d.kept for lab in d.proposed}
    return out


def accept_agreement(store: Store, seed: int = 0) -> AcceptAgreement:
    """Alpha (nominal) between coders on each (document, label) both judged."""
    from replicoder.metrics.agreement import alpha_with_interval

    judged = {doc: coders for doc, coders in _judged(store).items() if len(coders) >= 2}
    units: dict[str, dict[str, frozenset[str]]] = {}
    for doc, coders in judged.items():
        for label in {lab for labels in coders.values() for lab in labels}:
            said = {c: frozenset({"accepted" if v[label] else "rejected"})
                    for c, v in coders.items() if label in v}
            if len(said) >= 2:
                units[f"{doc}\t{label}"] = said
    if not units:
        return AcceptAgreement(len(judged), 0, None, None, None)
    alpha, interval, _ = alpha_with_interval(units, "nominal", n_boot=1000, seed=seed)
    agree = sum(len(set(u.values())) == 1 for u in units.values()) / len(units)
    return AcceptAgreement(len(judged), len(units), alpha, interval, agree)


def acceptance_data(store: Store, seed: int = 0) -> dict[str, Any]:
    """Acceptance rates and accept agreement as plain data (for JSON and the report)."""
    agreement = accept_agreement(store, seed)
    return {
        "acceptance": [{"annotator": a.annotator, "accepted": a.accepted, "n": a.n,
                        "rate": a.rate, "ci95": [a.low, a.high]}
                       for a in acceptance_rates(store)],
        "accept_agreement": {"documents": agreement.documents, "units": agreement.units,
                             "alpha": agreement.alpha,
                             "ci95": list(agreement.interval) if agreement.interval else None,
                             "all_agree": agreement.all_agree},
    }
