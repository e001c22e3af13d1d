"""`replicoder estimate regress`: a regression on predicted labels with valid intervals.

The outcome is one label's indicator (the model's final answer, or its score) for every
classified document; the covariates come from the classified file or the documents'
metadata. The study's random validation sample (`replicoder review sample`) and its
verified labels correct the regression (:mod:`replicoder.regress`): DSL and PPI++ beside
the naive fit on predicted labels and the fit on the verified sample alone.

As in `replicoder estimate`, documents humans verified before the sample was drawn count
with their verified labels, and a sample drawn from another set of documents is refused.
A model that was trained on sampled documents is refused too: its errors on documents it
learned from understate its errors on the rest.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.estimate import runs
from replicoder.estimate.corpus import _check_population, _strata, _verified
from replicoder.estimate.crossfit import FOLDS, PENALTY, SEED
from replicoder.estimate.inputs import (
    Targets,
    checked_methods,
    label_matrix,
    read_predictions,
    score_matrix,
)
from replicoder.estimate.regression import (
    INTERCEPT,
    METHODS,
    MODELS,
    Data,
    calibrated,
    fit,
    power,
)
from replicoder.io.tables import column_values
from replicoder.labels.codebook import Codebook
from replicoder.run import Run
from replicoder.store import StoredSample
from replicoder.study import Study

__all__ = ["RegressResult", "check_training", "design_matrix", "regress",
           "wider_than_sample_only"]

OUTCOME_FROM = ("labels", "scores")
CORRECTED = ("dsl", "ppi")
ESTIMATORS = {
    "dsl": "design-based supervised learning (Egami et al., NeurIPS 2023): regression of "
           "g + R/pi (y - g) on the corpus, g = E[y | prediction, covariates] by a ridge "
           "logistic regression on the verified sample, 5-fold cross-fitted (folds by a "
           "hash of the document id and seed 0); "
           "sandwich variance, t interval with Satterthwaite degrees of freedom",
    "ppi": "PPI++ (Angelopoulos, Duchi, Zrnic 2024): the DSL equation on the raw "
           "prediction, its predicted part weighted by the variance-minimising lambda in "
           "[0, 1]",
    "naive": "regression of the predicted outcome as if it were true (robust sandwich)",
    "sample-only": "regression of the verified outcome on the sample, weighted by 1/pi",
}


@dataclass(frozen=True)
class RegressResult:
    run_id: str
    out_dir: Path
    table: pd.DataFrame
    power: pd.DataFrame | None
    warnings: list[str]
    manifest: dict[str, Any]


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not
                                                              v.strip())


def _values(study: Study, frame: pd.DataFrame, ids: list[str], column: str, path: Path,
            what: str) -> list[Any]:
    if column in frame.columns:
        raw = frame[column].tolist()
        empty = [i for i, v in enumerate(raw) if _empty(v)]
        if empty:
            raise ReplicoderError(
                f"{path}: {what} {column!r} has missing values in {len(empty)} rows (e.g. id "
                f"{ids[empty[0]]!r}); a regression needs a value for every document. Fill "
                "them in (e.g. a category 'unknown') or choose another covariate; dropping "
                "documents would break the link to the random sample")
        return raw
    return column_values(study, ids, column, {}, path)


def _natural(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def design_matrix(columns: Mapping[str, Sequence[Any]], categorical: Sequence[str] = (),
                  reference: Mapping[str, str] | None = None
                  ) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """(x with an intercept first, term names, reference level of each categorical column).

    A column is numeric when every value reads as a number (unless named in
    ``categorical``); otherwise each level but the reference gets an indicator
    ``column=level``. The reference is ``reference[column]`` or the first level in natural
    order (numbers by value, then text).
    """
    reference = dict(reference or {})
    n = len(next(iter(columns.values()))) if columns else 0
    parts, names, refs = [np.ones((n, 1))], [INTERCEPT], {}
    unknown = sorted(set(reference) - set(columns))
    if unknown:
        raise ReplicoderError(f"--reference {unknown[0]}=...: {unknown[0]!r} is not one of the "
                              f"covariates ({', '.join(columns)})")
    for column, values in columns.items():
        numbers = None
        if column not in categorical and column not in reference:
            try:
                numbers = np.asarray([float(v) for v in values], dtype=np.float64)
            except (TypeError, ValueError):
                numbers = None
        if numbers is not None and not np.isfinite(numbers).all():
            bad = int(np.flatnonzero(~np.isfinite(numbers))[0])
            raise ReplicoderError(
                f"covariate {column!r} has a missing or infinite value ({values[bad]!r}, row "
                f"{bad + 1}); a regression needs a number for every document")
        if numbers is not None:
            if np.ptp(numbers) == 0:
                raise ReplicoderError(
                    f"covariate {column!r} is constant ({numbers[0]:g} for every document): "
                    "it cannot be told apart from the intercept; leave it out")
            parts.append(numbers[:, None])
            names.append(column)
            continue
        text = [str(v) for v in values]
        levels = sorted(set(text), key=_natural)
        if len(levels) < 2:
            raise ReplicoderError(
                f"covariate {column!r} is constant ({levels[0]!r} for every document): it "
                "cannot be told apart from the intercept; leave it out")
        ref = reference.get(column, levels[0])
        if ref not in levels:
            raise ReplicoderError(f"--reference {column}={ref}: no document has that level; "
                                  f"levels: {', '.join(levels[:10])}")
        refs[column] = ref
        arr = np.asarray(text, dtype=object)
        for level in levels:
            if level != ref:
                parts.append((arr == level).astype(np.float64)[:, None])
                names.append(f"{column}={level}")
    return np.hstack(parts), names, refs


def _parse_time(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def check_training(study: Study, frame: pd.DataFrame, sample: StoredSample) -> list[str]:
    """Refuse when a model behind the predictions was trained on sampled documents (in the
    study's train or validation split and verified, or gold, before it was trained); the
    warnings say what could not be checked."""
    if "model" not in frame.columns:
        return ["the predictions have no 'model' column, so it could not be checked that "
                "the model was not trained on documents of the validation sample; the "
                "correction is valid only if it was not"]
    names = sorted({str(v) for v in frame["model"].tolist() if not _empty(v)})
    warnings = []
    with study.store() as store:
        runs = store.list_runs("train")
        split = store.split_assignments()
        first = store.first_decided()
        gold = set(store.gold(list(sample.docs)))
    for name in names:
        trained = [r for r in runs if r["manifest"].get("name") == name]
        if not trained:
            warnings.append(
                f"model {name!r} has no training run in this study, so it could not be "
                "checked that it was not trained on documents of the validation sample; "
                "the correction is valid only if it was not")
            continue
        when = max(_parse_time(r["created_at"]) for r in trained)
        seen = [d for d in sample.docs if split.get(d) in ("train", "validation")
                and (d in gold or (d in first and _parse_time(first[d]) < when))]
        if seen:
            raise ReplicoderError(
                f"model {name!r} was trained ({when:%Y-%m-%d %H:%M} UTC) on {len(seen)} "
                f"documents of validation sample {sample.sample_id} (e.g. {seen[0]!r}: in the "
                f"study's {split[seen[0]]} split and verified before the training). Its "
                "errors on documents it learned from understate its errors on the corpus, "
                "so the corrected intervals would be too narrow. Use a model trained before "
                "the sample was verified, or one trained on documents outside the sample "
                "(Python: replicoder.train.train(..., train_ids=...)), and classify again")
    return warnings


def regress(study: Study, predictions: Path, *, outcome: str, covariates: Sequence[str],
            outcome_from: str = "labels", model: str = "ols", cluster: str | None = None,
            methods: Sequence[str] = METHODS, sample_id: str | None = None,
            id_column: str = "id", level: float = 0.95, categorical: Sequence[str] = (),
            reference: Mapping[str, str] | None = None, allow_incomplete: bool = False,
            power_se: float | None = None, out_dir: Path | None = None,
            figure: bool = True) -> RegressResult:
    """Fit the regression of ``outcome`` on ``covariates`` by each method; write
    coefficients.csv, coefficients.parquet, coefficients.png (power.csv with
    ``power_se``) and manifest.json to ``out_dir`` (default runs/<id>/)."""
    predictions = Path(predictions)
    spec = _spec(study, outcome, outcome_from, model, methods, level, covariates)
    frame = read_predictions(predictions, id_column)
    ids = [str(i) for i in frame[id_column].tolist()]
    yhat = _predicted_outcome(frame, predictions, spec)
    design = _design(study, frame, ids, predictions, covariates, categorical, reference,
                     cluster)
    needs_sample = any(m != "naive" for m in spec.methods) or power_se is not None
    sample = runs.required_sample(study, sample_id, needs_sample, _no_sample(predictions))
    sampled = _validation(study, frame, ids, predictions, sample, spec, allow_incomplete)
    exact, known = _known_outcome(study, yhat, ids, sample, spec)
    data = Data(design.x, yhat, sampled.rows, sampled.y, sampled.prob, design.clusters, exact,
                np.asarray(ids, dtype=object))
    table, lams, failures = _fit_all(data, model, spec.methods, design.terms, level,
                                     spec.common(len(ids), len(sampled.rows)))
    warnings = sampled.warnings + failures + wider_than_sample_only(table)
    power_table = None
    if power_se is not None:
        power_table = _power(data, model, power_se, design.terms, spec.methods, lams)
        if cluster:
            warnings.append("--power assumes independent documents: with clustered "
                            "documents more may be needed")
    run = Run.start(study, "regress")
    out = Path(out_dir) if out_dir else run.dir
    _write(table, power_table, out)
    if figure:
        from replicoder.estimate.coefficient_figure import coefficients_figure

        coefficients_figure(table, out / "coefficients.png")
    manifest = runs.write_manifest(run, out, {
        "command": "estimate regress",
        "predictions": runs.predictions_field(run, predictions, len(ids), id_column),
        **spec.fields(), **design.fields(), "categorical": list(categorical),
        "cluster": cluster, "lambda": lams, "power_target_se": power_se,
        **runs.sample_fields(sample, sampled.verified, known, allow_incomplete),
        "warnings": warnings})
    return RegressResult(run.run_id, out, table, power_table, warnings, manifest)


@dataclass(frozen=True)
class _Spec:
    """What is fitted: the outcome's code (column ``j`` of the codebook) and where it is
    read from, the model, the methods and the level."""

    book: Codebook
    code: str
    j: int
    outcome_from: str
    model: str
    methods: list[str]
    level: float

    def common(self, documents: int, verified: int) -> dict[str, Any]:
        """The columns every row of the coefficient table carries."""
        return {"outcome": self.code, "outcome_from": self.outcome_from, "model": self.model,
                "documents": documents, "verified": verified, "level": self.level}

    def fields(self) -> dict[str, Any]:
        """The manifest's record of the fit."""
        return {"outcome": self.code, "outcome_from": self.outcome_from, "model": self.model,
                "level": self.level, "methods": self.methods,
                "dsl_cross_fitting": {"folds": FOLDS, "seed": SEED, "ridge_penalty": PENALTY},
                "estimators": {m: ESTIMATORS[m] for m in self.methods}}


def _spec(study: Study, outcome: str, outcome_from: str, model: str, methods: Sequence[str],
          level: float, covariates: Sequence[str]) -> _Spec:
    """The fit asked for, checked."""
    chosen = _check_options(model, outcome_from, level, methods, covariates)
    code = _outcome_code(study, outcome)
    book = study.codebook
    return _Spec(book, code, book.codes.index(code), outcome_from, model, chosen, level)


@dataclass(frozen=True)
class _Design:
    """The covariates (in order, once each) as a design matrix ``x`` with its term names
    and each categorical column's reference level; each document's cluster (None without
    a cluster column)."""

    covariates: list[str]
    x: np.ndarray
    terms: list[str]
    refs: dict[str, str]
    clusters: np.ndarray | None

    def fields(self) -> dict[str, Any]:
        """The manifest's record of the design."""
        return {"covariates": self.covariates, "terms": self.terms,
                "reference_levels": self.refs,
                "clusters": None if self.clusters is None else int(self.clusters.max()) + 1}


def _design(study: Study, frame: pd.DataFrame, ids: list[str], path: Path,
            covariates: Sequence[str], categorical: Sequence[str],
            reference: Mapping[str, str] | None, cluster: str | None) -> _Design:
    """The covariates' and the cluster column's values for every document, as a design."""
    columns = {c: _values(study, frame, ids, c, path, "covariate")
               for c in dict.fromkeys(covariates)}
    x, terms, refs = design_matrix(columns, categorical, reference)
    clusters = None
    if cluster:
        raw = _values(study, frame, ids, cluster, path, "cluster column")
        clusters = np.unique(np.asarray([str(v) for v in raw], dtype=object),
                             return_inverse=True)[1]
    return _Design(list(columns), x, terms, refs, clusters)


def _no_sample(predictions: Path) -> str:
    return ("the study has no random validation sample. The corrected and sample-only fits "
            "need verified labels on a random sample of the classified documents: draw it "
            f"with `replicoder review sample N --from {predictions}`, review it, then "
            "estimate; or use --method naive")


@dataclass(frozen=True)
class _Sampled:
    """The verified documents of the sample: their rows in the predictions, verified
    outcome and inclusion probability, their verified label rows, and the warnings."""

    rows: np.ndarray
    y: np.ndarray
    prob: np.ndarray
    verified: dict[str, np.ndarray]
    warnings: list[str]


def _validation(study: Study, frame: pd.DataFrame, ids: list[str], path: Path,
                sample: StoredSample | None, spec: _Spec, allow_incomplete: bool) -> _Sampled:
    """The sample's verified documents, after checking that the sample was drawn from
    these documents and that the model did not learn from it (empty without a sample)."""
    if sample is None:
        return _Sampled(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), {}, [])
    _check_population(sample, ids, path)
    _strata(study, sample, ids, frame, path)
    warnings = check_training(study, frame, sample)
    row_of = {d: i for i, d in enumerate(ids)}
    rows, y, prob, verified = _sampled(study, sample, Targets(spec.book),
                                       allow_incomplete, row_of, spec.j)
    return _Sampled(rows, y, prob, verified, warnings + _few(y, spec.code))


def _predicted_outcome(frame: pd.DataFrame, path: Path, spec: _Spec) -> np.ndarray:
    """The model's outcome for every document: its 0/1 answer or its score."""
    matrix = label_matrix if spec.outcome_from == "labels" else score_matrix
    return matrix(frame, Targets(spec.book), path)[:, spec.j]


def _known_outcome(study: Study, yhat: np.ndarray, ids: list[str],
                   sample: StoredSample | None, spec: _Spec
                   ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Put the verified outcome into ``yhat`` where humans verified the document before
    the sample was drawn; which documents those are, and their label rows."""
    known = runs.known_among(study, Targets(spec.book), sample, ids)
    exact = np.zeros(len(ids), dtype=bool)
    for row, labels in runs.known_rows(known, ids).items():
        yhat[row] = labels[spec.j]
        exact[row] = True
    return exact, known


def _check_options(model: str, outcome_from: str, level: float, methods: Sequence[str],
                   covariates: Sequence[str]) -> list[str]:
    """The methods asked for, once each; refuses settings that cannot be fitted."""
    if model not in MODELS:
        raise ReplicoderError(f"--model {model}: choose ols or logit")
    if outcome_from not in OUTCOME_FROM:
        raise ReplicoderError(f"--outcome-from {outcome_from}: choose labels or scores")
    chosen = checked_methods(methods, METHODS, level)
    if not covariates:
        raise ReplicoderError("give at least one --covariates column")
    return chosen


def _sampled(study: Study, sample: StoredSample, targets: Targets, allow_incomplete: bool,
             row_of: Mapping[str, int], j: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(rows in the predictions, verified outcome, inclusion probability) of the verified
    documents of the sample, and their verified label rows."""
    verified = _verified(study, sample, targets, allow_incomplete)
    sampled = sorted(verified)
    rows = np.asarray([row_of[d] for d in sampled], dtype=np.int64)
    y = np.asarray([verified[d][j] for d in sampled])
    strata = sample.design["strata"]
    prob = np.asarray([strata[sample.docs[d]]["inclusion_probability"] for d in sampled])
    return rows, y, prob, verified


def _few(y: np.ndarray, code: str) -> list[str]:
    if y.sum() >= 5 and len(y) - y.sum() >= 5:
        return []
    return [f"the verified sample holds {int(y.sum())} documents with {code} and "
            f"{int(len(y) - y.sum())} without: too few for the corrected intervals to be "
            "reliable; verify more documents (or a sample stratified by the predicted label)"]


def _fit_all(data: Data, model: str, methods: Sequence[str], terms: Sequence[str],
             level: float, common: Mapping[str, Any]
             ) -> tuple[pd.DataFrame, dict[str, float], list[str]]:
    """One row per method and term, each method's lambda, and a warning per method that
    could not be fitted (all failing is an error)."""
    records = []
    lams: dict[str, float] = {}
    failed: dict[str, str] = {}
    for method in methods:
        try:
            result = fit(data, model, method)
        except ReplicoderError as exc:
            failed[method] = str(exc)
            continue
        lams[method] = result.lam
        low, high = result.interval(level)
        for k, term in enumerate(terms):
            records.append({"term": term, "method": method,
                            "estimate": float(result.coef[k]), "se": float(result.se[k]),
                            "low": float(low[k]), "high": float(high[k]),
                            "df": float(result.df[k]), "lambda": result.lam, **common})
    if len(failed) == len(methods):
        raise ReplicoderError(next(iter(failed.values())))
    warnings = [f"--method {m} gave no result: {why}" for m, why in failed.items()]
    return pd.DataFrame.from_records(records), lams, warnings


def wider_than_sample_only(table: pd.DataFrame) -> list[str]:
    """A note per corrected method whose interval is wider than sample-only's for some
    term: the predictions then add nothing there (valid, but use the narrower fit)."""
    if table.empty or "sample-only" not in set(table["method"]):
        return []
    width = table.assign(width=table["high"] - table["low"]).pivot_table(
        index="term", columns="method", values="width", sort=False)
    out = []
    for method in [m for m in CORRECTED if m in width.columns]:
        wide = width.index[width[method] > width["sample-only"]].tolist()
        if wide:
            out.append(f"{method}'s interval is wider than sample-only's for "
                       f"{', '.join(map(str, wide[:5]))}: the predictions carry little "
                       "information about this outcome there; the sample-only (or the "
                       "narrower corrected) interval is the one to report")
    return out


def _outcome_code(study: Study, outcome: str) -> str:
    book = study.codebook
    if outcome in book.codes:
        return outcome
    by_name = [lab.code for lab in book.labels if lab.name.lower() == outcome.lower()]
    if len(by_name) == 1:
        return by_name[0]
    listed = ", ".join(f"{lab.code} ({lab.name})" for lab in book.labels[:12])
    raise ReplicoderError(f"--outcome {outcome}: not a label of the study's codebook; give "
                          f"a code or name: {listed}{' ...' if len(book.labels) > 12 else ''}")


def _power(data: Data, model: str, target: float, terms: list[str], methods: list[str],
           lams: dict[str, float]) -> pd.DataFrame:
    records = []
    for method in [m for m in CORRECTED if m in lams] or ["dsl"]:
        lam = lams.get(method, 1.0)
        for row in power(calibrated(data) if method == "dsl" else data, model, target, lam):
            records.append({"term": terms[row.term], "method": method, "lambda": lam,
                            "target_se": target, "se_now": row.se_pilot,
                            "verified_now": len(data.rows), "needed": row.needed,
                            "se_all_verified": row.se_all_verified,
                            "needed_sample_only": row.needed_sample_only,
                            "documents": len(data.yhat)})
    return pd.DataFrame.from_records(records)


def _write(table: pd.DataFrame, power_table: pd.DataFrame | None, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "coefficients.csv", table.to_csv(index=False))
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    atomic.write_bytes(out / "coefficients.parquet", buf.getvalue())
    if power_table is not None:
        atomic.write_text(out / "power.csv", power_table.to_csv(index=False))
