"""Agreement of a study's AI crowd: its annotators' proposals, as kappa and alpha tables.

The statistics themselves (kappa, alpha, MASI, bootstrap) are pure and live in
``replicoder.metrics.agreement``; this module turns stored proposals into their units.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import Codebook
from replicoder.metrics.agreement import (
    LEVEL,
    Units,
    alpha_with_interval,
    kappa_with_interval,
    share_all_agree,
)
from replicoder.store import Proposal

if TYPE_CHECKING:
    from replicoder.study import Study

__all__ = ["agreement_from", "agreement_table"]


def _units(proposals: Iterable[Proposal], annotators: Sequence[str]) -> Units:
    wanted = set(annotators)
    units: Units = {}
    for p in proposals:
        if p.status == "ok" and p.annotator in wanted:
            units.setdefault(p.doc_id, {})[p.annotator] = p.labels
    return units


def _stat(value: float, ci: tuple[float, float], n: int) -> dict[str, Any]:
    return {"value": value, "ci": list(ci), "n": n}


def agreement_from(proposals: Iterable[Proposal], annotators: Sequence[str], *,
                   codebook: Codebook, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The agreement table of these annotators' proposals; see :func:`agreement_table`."""
    props = list(proposals)
    units = _units(props, annotators)
    documents = {p.doc_id for p in props if p.annotator in set(annotators)}
    pairs = []
    for i, a in enumerate(annotators):
        for b in annotators[i + 1:]:
            both = [c for c in units.values() if a in c and b in c]
            value, ci = kappa_with_interval([c[a] for c in both], [c[b] for c in both],
                                            n_boot, seed)
            pairs.append({"a": a, "b": b, **_stat(value, ci, len(both))})
    distance = "masi" if codebook.multi_label else "nominal"
    value, ci, n = alpha_with_interval(units, distance, n_boot, seed)
    per_label = []
    if codebook.multi_label:
        for lab in codebook.labels:
            proposed = sum(lab.code in s for c in units.values() for s in c.values())
            if not proposed:
                continue
            binary = {d: {k: s & {lab.code} for k, s in c.items()} for d, c in units.items()}
            v, lci, ln = alpha_with_interval(binary, "nominal", n_boot, seed)
            per_label.append({"code": lab.code, "name": lab.name, "proposed": proposed,
                              **_stat(v, lci, ln)})
    share, sci, sn = share_all_agree(units, n_boot, seed)
    return {
        "annotators": list(annotators),
        "multi_label": codebook.multi_label,
        "n_documents": len(documents),
        "missing": {a: sum(a not in units.get(d, {}) for d in documents) for a in annotators},
        "kappa": pairs,
        "alpha": {"distance": distance, **_stat(value, ci, n)},
        "alpha_per_label": per_label,
        "all_agree": _stat(share, sci, sn),
        "n_boot": n_boot, "seed": seed, "level": LEVEL,
    }


def agreement_table(study: Study, annotators: Sequence[str] | None = None,
                    n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Agreement of a study's annotators (default: all with proposals), from ``proposals``.

    Returns a JSON-ready dict: ``kappa`` (one entry per pair: a, b, value, ci, n),
    ``alpha`` (nominal for single-label codebooks, MASI for multi-label ones),
    ``alpha_per_label`` (multi-label only: each proposed label as a binary item),
    ``all_agree`` (share of documents with >= 2 answers where all are the same set),
    ``missing`` (per annotator: documents without a usable answer), ``n_documents``.
    Answers with status other than "ok" count as missing. Values may be ``nan``.
    """
    with study.store() as store:
        known = store.annotators()
        props = store.proposals()
    if not known:
        raise ReplicoderError(
            f"{study.root}: no proposals yet; define at least two annotators in "
            "replicoder.toml and run `replicoder annotate` first"
        )
    names = list(dict.fromkeys(annotators)) if annotators else known
    unknown = [a for a in names if a not in known]
    if unknown:
        raise ReplicoderError(
            f"--annotator {unknown[0]}: no proposals from that annotator in {study.db_path}; "
            f"annotators with proposals: {', '.join(known)}"
        )
    if len(names) < 2:
        raise ReplicoderError(
            f"agreement needs at least two annotators; got {', '.join(names)}. "
            "Name more with --annotator, or define more annotators in replicoder.toml and run "
            "`replicoder annotate`"
        )
    table = agreement_from(props, names, codebook=study.codebook, n_boot=n_boot, seed=seed)
    from replicoder.annotate.repeats import base_name, stability

    chosen = {base_name(a) for a in names}
    table["stability"] = stability([p for p in props if base_name(p.annotator) in chosen],
                                   study.codebook, n_boot, seed)
    return table
