"""`replicoder estimate`: label shares of a classified corpus with valid intervals.

Reads a classified output (`replicoder classify`), the study's latest (or a named) random
validation sample (`replicoder review sample`) and the reviewers' verified labels of the
sampled documents, and writes shares per label, overall or per group, by prediction-powered
inference next to classify-and-count and the verified sample alone
(:mod:`replicoder.estimate.shares`).

The model's answer for a document is its final one: the ``labels`` column (which holds a
routed annotator's answer where classify routed it), or the ``score_<code>`` columns with
``use="scores"`` (a score of at least 0.5 counts as predicted: PPI stratifies on it).
Documents that humans had verified before the sample was drawn count with their verified
labels; their labels are known, not predicted.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.estimate.inputs import (
    Targets,
    checked_methods,
    label_matrix,
    labels_sha256,
    score_matrix,
)
from replicoder.estimate.shares import METHODS, Population, Shares, estimate_shares
from replicoder.hashing import input_sha256
from replicoder.io.tables import column_values, read_table
from replicoder.review import design as sampling
from replicoder.run import Run
from replicoder.store import StoredSample
from replicoder.study import Study

__all__ = ["EstimateResult", "estimate", "share_table"]

USES = ("labels", "scores")


@dataclass(frozen=True)
class EstimateResult:
    run_id: str
    out_dir: Path
    table: pd.DataFrame
    warnings: list[str]
    manifest: dict[str, Any]


def _sample(study: Study, sample_id: str | None) -> StoredSample | None:
    with study.store() as store:
        ids = store.sample_ids()
        if sample_id is None:
            return store.sample(ids[-1]) if ids else None
        found = store.sample(sample_id)
    if found is None:
        listed = ", ".join(ids[-5:]) or "none yet"
        raise ReplicoderError(f"--sample {sample_id}: no such sample in the study "
                              f"(samples: {listed})")
    return found


def _check_population(sample: StoredSample, ids: list[str], path: Path) -> None:
    design = sample.design
    if sampling.population_sha256(ids) != design["population_sha256"]:
        raise ReplicoderError(
            f"{path} holds {len(ids):,} documents, but sample {sample.sample_id} was drawn "
            f"from another population ({design['population']:,} documents, source "
            f"{design.get('source')}). The estimate is only valid when the sample is a random "
            "draw from the classified documents: classify the documents the sample was drawn "
            "from, or draw a new sample with `replicoder review sample N --from "
            f"{path}`")


def _strata(study: Study, sample: StoredSample, ids: list[str], frame: pd.DataFrame,
            path: Path) -> list[str]:
    column = sample.design.get("strata_column")
    if not column:
        return [sampling.ALL] * len(ids)
    cols = {column: frame[column].tolist()} if column in frame.columns else {}
    values = [str(v) for v in column_values(study, ids, column, cols, path)]
    counts = Counter(values)
    expected = {h: s["population"] for h, s in sample.design["strata"].items()}
    if dict(counts) != expected:
        raise ReplicoderError(
            f"the strata column {column!r} now splits the documents differently from when "
            f"sample {sample.sample_id} was drawn ({dict(sorted(counts.items()))} vs "
            f"{expected}); draw a new sample")
    return values


def _verified(study: Study, sample: StoredSample, targets: Targets, allow_incomplete: bool
              ) -> dict[str, np.ndarray]:
    with study.store() as store:
        labels = store.verified_labels()
        pending = [d for d in sample.docs if d not in labels]
        if pending and allow_incomplete:
            from replicoder.review.order import check_random_review

            check_random_review(store, sample, len(pending))
    if pending and (not allow_incomplete or len(pending) == len(sample.docs)):
        raise ReplicoderError(
            f"{len(pending)} of the {len(sample.docs)} documents of sample {sample.sample_id} "
            f"are not verified yet (e.g. id {pending[0]!r}; unclear, disagreed on or not "
            "reviewed). Finish their review (`replicoder review`, `review adjudicate`); only "
            "with --allow-incomplete are the verified ones used, which is valid only if the "
            "rest is missing at random")
    return {doc_id: targets.row(labels[doc_id], f"document {doc_id!r}")
            for doc_id in sample.docs if doc_id in labels}


def _known(study: Study, targets: Targets, before: str | None) -> dict[str, np.ndarray]:
    """Documents humans verified before ``before`` (all verified ones when None)."""
    with study.store() as store:
        labels = store.verified_labels()
        first = store.first_decided()
    return {doc_id: targets.row(values, f"document {doc_id!r}")
            for doc_id, values in labels.items()
            if before is None or first.get(doc_id, before) < before}


def estimate(study: Study, predictions: Path, *, by: Sequence[str] = (), level: float = 0.95,
             methods: Sequence[str] = METHODS, sample_id: str | None = None,
             id_column: str = "id", use: str = "labels", allow_incomplete: bool = False,
             out_dir: Path | None = None, figure: bool = True,
             intensities: bool = False) -> EstimateResult:
    """Estimate every label's share in ``predictions`` (and per ``by`` group); write
    shares.csv, shares.parquet, shares.png and manifest.json to ``out_dir`` (default
    runs/<id>/). In a graded study the shares are of label presence, and with
    ``intensities`` also of each label x intensity (``code:intensity``)."""
    predictions = Path(predictions)
    if use not in USES:
        raise ReplicoderError(f"--use {use}: choose labels or scores")
    methods = checked_methods(methods, METHODS, level)
    if intensities and not study.codebook.graded:
        raise ReplicoderError(f"--intensities: codebook {study.codebook.name!r} is not graded "
                              "(it has no intensities); leave the option out")
    targets = Targets(study.codebook, intensities)
    codes = targets.keys
    frame = read_table(predictions, id_column)
    if frame.empty:
        raise ReplicoderError(f"{predictions}: no documents")
    ids = frame[id_column].tolist()
    counted = label_matrix(frame, targets, predictions)
    predicted = counted.copy() if use == "labels" else score_matrix(frame, targets,
                                                                     predictions)
    needs_sample = any(m != "classify-and-count" for m in methods)
    sample = _sample(study, sample_id) if needs_sample or sample_id else None
    if needs_sample and sample is None:
        raise ReplicoderError(
            "the study has no random validation sample. PPI and sample-only estimates need "
            "verified labels on a random sample of the classified documents (labels verified "
            "for training are not one): draw it with `replicoder review sample N --from "
            f"{predictions}`, review it, then estimate; or use --method classify-and-count")
    verified: dict[str, np.ndarray] = {}
    strata = [sampling.ALL] * len(ids)
    if sample is not None:
        _check_population(sample, ids, predictions)
        strata = _strata(study, sample, ids, frame, predictions)
        verified = _verified(study, sample, targets, allow_incomplete)
    known = _known(study, targets, sample.created_at if sample else None)
    row_of = {d: i for i, d in enumerate(ids)}
    for doc_id, row in known.items():
        if doc_id in row_of:
            predicted[row_of[doc_id]] = row
            counted[row_of[doc_id]] = row
    columns = {c: frame[c].tolist() for c in by if c in frame.columns}
    values = [[str(v) for v in column_values(study, ids, c, columns, predictions)] for c in by]
    groups = list(zip(*values, strict=True)) if by else [()] * len(ids)
    names = targets.names
    result = estimate_shares(codes, Population(ids, predicted, counted, strata, groups),
                             verified, methods=methods, level=level, names=names,
                             group_names=list(by))
    table = share_table(result, by, names, level)
    run = Run.start(study, "estimate")
    run_id = run.run_id
    out = Path(out_dir) if out_dir else run.dir
    _write(table, out)
    if figure:
        from replicoder.estimate.figure import shares_figure

        shares_figure(table, list(by), out / "shares.png")
    manifest = run.write({
        "predictions": {"path": run.relative(predictions),
                                          "sha256": input_sha256(predictions),
                                          "documents": len(ids), "id_column": id_column},
        "by": list(by), "level": level, "methods": methods, "use": use,
        "intensities": intensities,
        "sample_id": sample.sample_id if sample else None,
        "sample_design": sample.design if sample else None,
        "verified_documents": len(verified), "allow_incomplete": allow_incomplete,
        "known_before_sample": sum(d in row_of for d in known),
        "verified_sha256": labels_sha256(verified, {d: v for d, v in known.items()
                                                    if d in row_of}),
        "estimator": "ppi: stratified PPI on the predicted label (Fisch et al. 2024), Wilson "
                     "interval per stratum combined by MOVER (Zou and Donner 2008); "
                     "sample-only: Wilson per design stratum, MOVER; design strata weighted "
                     "by population shares",
        "warnings": result.warnings,
        "output": run.relative(out),
        "outputs": sorted({"manifest.json", *(p.name for p in out.iterdir()
                                              if not p.name.startswith("."))}),
    }, copies=[out / "manifest.json"] if out != run.dir else [])
    return EstimateResult(run_id, out, table, result.warnings, manifest)


def share_table(result: Shares, by: Sequence[str], names: dict[str, str],
                level: float) -> pd.DataFrame:
    """One row per group, label and method."""
    records = []
    for row in result.rows:
        data = asdict(row)
        key = data.pop("group")
        record: dict[str, Any] = dict(zip(by, key, strict=True))
        code = data.pop("code")
        record.update({"label": code, "label_name": names.get(code, code), **data,
                       "level": level})
        records.append(record)
    return pd.DataFrame.from_records(records)


def _write(table: pd.DataFrame, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "shares.csv", table.to_csv(index=False))
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    atomic.write_bytes(out / "shares.parquet", buf.getvalue())
