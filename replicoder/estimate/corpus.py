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
    group_keys,
    label_matrix,
    read_predictions,
    score_matrix,
)
from replicoder.estimate.runs import (
    known_among,
    known_rows,
    predictions_field,
    required_sample,
    sample_fields,
    write_manifest,
)
from replicoder.estimate.shares import METHODS, Population, Shares, estimate_shares
from replicoder.io.tables import column_values
from replicoder.review import design as sampling
from replicoder.run import Run
from replicoder.store import StoredSample
from replicoder.study import Study

__all__ = ["EstimateResult", "estimate", "share_table"]

USES = ("labels", "scores")
ESTIMATOR = ("ppi: stratified PPI on the predicted label (Fisch et al. 2024), Wilson interval "
             "per stratum combined by MOVER (Zou and Donner 2008); sample-only: Wilson per "
             "design stratum, MOVER; design strata weighted by population shares")


@dataclass(frozen=True)
class EstimateResult:
    run_id: str
    out_dir: Path
    table: pd.DataFrame
    warnings: list[str]
    manifest: dict[str, Any]


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
    methods = _check_options(study, use, methods, level, intensities)
    targets = Targets(study.codebook, intensities)
    frame = read_predictions(predictions, id_column)
    ids = frame[id_column].tolist()
    counted = label_matrix(frame, targets, predictions)
    predicted = counted.copy() if use == "labels" else score_matrix(frame, targets,
                                                                     predictions)
    sample = required_sample(study, sample_id, any(m != "classify-and-count" for m in methods),
                             _no_sample(predictions))
    strata, verified = _validation(study, sample, ids, frame, predictions, targets,
                                   allow_incomplete)
    known = known_among(study, targets, sample, ids)
    for row, labels in known_rows(known, ids).items():
        predicted[row] = counted[row] = labels
    groups = group_keys(study, frame, ids, by, predictions)
    result = estimate_shares(targets.keys, Population(ids, predicted, counted, strata, groups),
                             verified, methods=methods, level=level, names=targets.names,
                             group_names=list(by))
    table = share_table(result, by, targets.names, level)
    run = Run.start(study, "estimate")
    out = Path(out_dir) if out_dir else run.dir
    _write(table, out)
    if figure:
        from replicoder.estimate.figure import shares_figure

        shares_figure(table, list(by), out / "shares.png")
    manifest = write_manifest(run, out, {
        "predictions": predictions_field(run, predictions, len(ids), id_column),
        "by": list(by), "level": level, "methods": methods, "use": use,
        "intensities": intensities, **sample_fields(sample, verified, known, allow_incomplete),
        "estimator": ESTIMATOR, "warnings": result.warnings})
    return EstimateResult(run.run_id, out, table, result.warnings, manifest)


def _check_options(study: Study, use: str, methods: Sequence[str], level: float,
                   intensities: bool) -> list[str]:
    """The methods asked for, once each; refuses options the study cannot meet."""
    if use not in USES:
        raise ReplicoderError(f"--use {use}: choose labels or scores")
    chosen = checked_methods(methods, METHODS, level)
    if intensities and not study.codebook.graded:
        raise ReplicoderError(f"--intensities: codebook {study.codebook.name!r} is not graded "
                              "(it has no intensities); leave the option out")
    return chosen


def _no_sample(predictions: Path) -> str:
    return ("the study has no random validation sample. PPI and sample-only estimates need "
            "verified labels on a random sample of the classified documents (labels verified "
            "for training are not one): draw it with `replicoder review sample N --from "
            f"{predictions}`, review it, then estimate; or use --method classify-and-count")


def _validation(study: Study, sample: StoredSample | None, ids: list[str], frame: pd.DataFrame,
                path: Path, targets: Targets, allow_incomplete: bool
                ) -> tuple[list[str], dict[str, np.ndarray]]:
    """Each document's design stratum and the verified label rows of the sample's documents
    (one stratum and none without a sample)."""
    if sample is None:
        return [sampling.ALL] * len(ids), {}
    _check_population(sample, ids, path)
    return (_strata(study, sample, ids, frame, path),
            _verified(study, sample, targets, allow_incomplete))


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
