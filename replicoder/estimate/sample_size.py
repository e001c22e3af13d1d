"""`replicoder estimate plan` (issue 30): how many documents a random validation sample
needs so that each label's PPI interval has width ``W`` (high - low), per label and group,
next to the number the sample alone would need.

The estimator is `replicoder estimate`'s: PPI stratified on the predicted label, a Wilson
interval per stratum, combined by MOVER (:mod:`replicoder.estimate.ppi`). For a simple random sample
of n documents a label's two strata get ``n * pi`` and ``n * (1 - pi)`` documents (``pi``:
the share the model gave the label), of which a share PPV (precision) and FOR (false
omission rate) carry it. The plan evaluates that interval at its expected counts and finds
the smallest n whose width is at most W (bisection). PPV and FOR come from a pilot sample
(the verified documents of the latest `review sample` among the predictions) when there is
one, each shrunk towards the value of the scores recalibrated on the pilot
(:func:`calibrate`) with the weight of PRIOR documents; else from
the model's scores alone (``score_<code>``: PPV = mean score where predicted, FOR = mean
score where not; right when the scores are calibrated). Sample-only: a Wilson interval of
the label's share p = pi * PPV + (1 - pi) * FOR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.estimate.inputs import Targets, group_keys, label_matrix, read_predictions
from replicoder.estimate.ppi import mover_sum, wilson, z_value
from replicoder.labels.codebook import Codebook
from replicoder.run import Run
from replicoder.study import Study

__all__ = ["PlanResult", "plan", "ppi_width", "sample_only_width", "sample_size"]

PRIOR = 20.0  # documents' worth of the scores' PPV / FOR added to a pilot's counts
MAX_N = 10_000_000


@dataclass(frozen=True)
class PlanResult:
    table: pd.DataFrame  # one row per group and label
    totals: dict[str, int]  # n_ppi and n_sample_only: every label within W, all groups
    source: str  # "pilot" or "scores"
    pilot: int
    run_id: str
    warnings: list[str]


def ppi_width(n: float, pi: float, ppv: float, fom: float, z: float) -> float:
    """Expected width of the stratified PPI interval from a sample of ``n``."""
    m = np.array([[n * pi], [n * (1 - pi)]])
    k = np.array([[n * pi * ppv], [n * (1 - pi) * fom]])
    b = mover_sum(np.array([[pi], [1 - pi]]), wilson(k, m, z))
    return float(b.high[0] - b.low[0])


def sample_only_width(n: float, p: float, z: float) -> float:
    b = wilson(np.array([n * p]), np.array([n]), z)
    return float(b.high[0] - b.low[0])


def sample_size(width: float, at: Any) -> int:
    """Smallest n >= 2 with ``at(n) <= width`` (``at`` falls with n)."""
    if at(MAX_N) > width:
        return MAX_N
    low, high = 1, 2
    while at(high) > width:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if at(mid) > width:
            low = mid
        else:
            high = mid
    return max(high, 2)


def _predicted(frame: pd.DataFrame, book: Codebook, path: Path) -> np.ndarray:
    return label_matrix(frame, Targets(book), path)


def _scores(frame: pd.DataFrame, codes: list[str]) -> np.ndarray | None:
    cols = [f"score_{c}" for c in codes]
    if not all(c in frame.columns for c in cols):
        return None
    s = frame[cols].to_numpy(dtype=np.float64)
    if not np.isfinite(s).all() or s.min() < 0 or s.max() > 1:
        return None
    return np.asarray(s)


def _pilot(study: Study, ids: list[str], codes: list[str], sample_id: str | None
           ) -> tuple[dict[int, np.ndarray], str | None]:
    """Row index -> verified 0/1 labels of the pilot's documents among the predictions."""
    with study.store() as store:
        samples = store.sample_ids()
        chosen = sample_id or (samples[-1] if samples else None)
        if chosen is None:
            return {}, None
        sample = store.sample(chosen)
        if sample is None:
            raise ReplicoderError(f"--sample {sample_id}: no such sample in the study "
                                  f"(samples: {', '.join(samples[-5:]) or 'none yet'})")
        verified = store.verified_labels()
    row = {d: i for i, d in enumerate(ids)}
    col = {c: j for j, c in enumerate(codes)}
    out: dict[int, np.ndarray] = {}
    for d in sample.docs:
        if d in verified and d in row:
            y = np.zeros(len(codes))
            for c in verified[d]:
                if c in col:
                    y[col[c]] = 1.0
            out[row[d]] = y
    return out, chosen


def calibrate(scores: np.ndarray, pilot: dict[int, np.ndarray]) -> np.ndarray:
    """The scores recalibrated on the pilot: one logistic fit of the verified 0/1 labels
    on the scores' logits, pooled over every label (Platt scaling with two parameters, so
    a pilot of a few hundred documents pins it down although each label has few)."""
    from sklearn.linear_model import LogisticRegression

    rows = sorted(pilot)
    y = np.stack([pilot[i] for i in rows]).ravel()
    if y.min() == y.max():
        return scores
    s = np.clip(scores, 1e-6, 1 - 1e-6)
    logit = np.log(s / (1 - s))
    fit = LogisticRegression(C=100.0).fit(logit[rows].reshape(-1, 1), y)
    return np.asarray(fit.predict_proba(logit.reshape(-1, 1))[:, 1].reshape(scores.shape))


@dataclass(frozen=True)
class _Evidence:
    """What the plan knows of the model: its 0/1 answers, its scores recalibrated on the
    pilot (None without scores) and the pilot's verified labels by row."""

    yhat: np.ndarray
    scores: np.ndarray | None
    pilot: dict[int, np.ndarray]
    pilot_id: str | None

    def rates(self, rows: np.ndarray, j: int) -> tuple[float, float, int]:
        """PPV, FOR and pilot size of label ``j`` among ``rows``: the scores' values (0.5
        without scores), updated by the pilot's counts with the scores' weight PRIOR."""
        yj = self.yhat[rows, j] >= 0.5
        ppv = fom = 0.5
        if self.scores is not None:
            sj = self.scores[rows, j]
            ppv = float(sj[yj].mean()) if yj.any() else 0.5
            fom = float(sj[~yj].mean()) if (~yj).any() else 0.5
        in_pilot = [i for i in rows if i in self.pilot]
        if not in_pilot:
            return ppv, fom, 0
        prior = PRIOR if self.scores is not None else 1.0
        pred = np.array([self.yhat[i, j] >= 0.5 for i in in_pilot])
        true = np.array([self.pilot[i][j] for i in in_pilot])
        return (float((true[pred].sum() + prior * ppv) / (pred.sum() + prior)),
                float((true[~pred].sum() + prior * fom) / ((~pred).sum() + prior)),
                len(in_pilot))


def _check_request(book: Codebook, width: float, level: float,
                   predictions: Path | None) -> Path:
    """The plan's arguments, checked; the predictions file's path."""
    if not 0 < width < 1:
        raise ReplicoderError(f"--width {width}: give the interval's full width as a share "
                              "between 0 and 1, e.g. 0.05 for +/- 2.5 points")
    if not 0.5 <= level < 1.0:
        raise ReplicoderError(f"--level {level}: give a confidence level such as 0.95")
    if book.graded:
        raise ReplicoderError("estimate plan works on codes, not graded intensities; the "
                              "codebook is graded (estimate shares are per code too)")
    if len(book.codes) < 2 and not book.multi_label:
        raise ReplicoderError(
            f"the codebook '{book.name}' has one label and is single-label: its share is 1 "
            "by definition, so no sample is needed")
    if predictions is None:
        raise ReplicoderError(
            "--predictions: give the classified output (`replicoder classify --out FILE`); "
            "the plan needs the model's answers for every document (no model yet? train "
            "one with `replicoder train`)")
    return Path(predictions)


def _evidence(study: Study, frame: pd.DataFrame, ids: list[str], predictions: Path,
              sample_id: str | None) -> _Evidence:
    """The model's answers and scores in ``frame`` and the study's pilot sample."""
    book = study.codebook
    yhat = _predicted(frame, book, predictions)
    scores = _scores(frame, book.codes)
    pilot, pilot_id = _pilot(study, ids, book.codes, sample_id)
    if scores is None and not pilot:
        raise ReplicoderError(
            f"{predictions} has no score_<code> probabilities and the study has no verified "
            "pilot sample, so the model's precision is unknown: give the output of `replicoder "
            "classify` (it writes the scores), or draw and review a small pilot sample first "
            "(`replicoder review sample 50 --seed 1 --from FILE`)")
    if scores is not None and pilot:
        scores = calibrate(scores, pilot)
    return _Evidence(yhat, scores, pilot, pilot_id)


def _label_plan(evidence: _Evidence, rows: np.ndarray, j: int, width: float,
                z: float) -> dict[str, Any]:
    """One label's rates in one group and the two sample sizes they need."""
    pi = float((evidence.yhat[rows, j] >= 0.5).mean())
    ppv, fom, pilot = evidence.rates(rows, j)
    p = pi * ppv + (1 - pi) * fom
    n_ppi = sample_size(width, lambda n: ppi_width(n, pi, ppv, fom, z))
    n_so = sample_size(width, lambda n: sample_only_width(n, p, z))
    return {"documents": len(rows), "predicted_share": pi, "ppv": ppv,
            "false_omission": fom, "expected_share": float(p), "pilot": pilot,
            "n_ppi": n_ppi, "n_sample_only": n_so,
            "saving": 1 - n_ppi / n_so if n_so else 0.0}


def _plan_rows(evidence: _Evidence, book: Codebook, groups: list[tuple[str, ...]],
               by: Sequence[str], width: float, level: float
               ) -> tuple[list[dict[str, Any]], list[str]]:
    """A row per group and label, and a warning where a group has too few documents."""
    z = z_value(level)
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    for key in sorted(set(groups)):
        rows = np.array([i for i, g in enumerate(groups) if g == key])
        for j, code in enumerate(book.codes):
            record: dict[str, Any] = dict(zip(by, key, strict=True))
            record.update({"label": code, "label_name": book.names.get(code, code),
                           **_label_plan(evidence, rows, j, width, z),
                           "width": width, "level": level})
            records.append(record)
            if record["n_ppi"] > len(rows):
                where = ", ".join(f"{c}={v}" for c, v in zip(by, key, strict=True)) or "corpus"
                warnings.append(f"{where}, label {code}: {record['n_ppi']:,} documents needed "
                                f"but only {len(rows):,} exist; widen --width")
    return records, warnings


def _totals(table: pd.DataFrame, by: Sequence[str]) -> dict[str, int]:
    """Documents for every label within the width: the largest label's need, summed
    over the groups."""
    per_group = list(table.groupby(list(by), sort=True)) if by else [((), table)]
    return {name: int(sum(g[name].max() for _, g in per_group))
            for name in ("n_ppi", "n_sample_only")}


def plan(study: Study, width: float, *, predictions: Path | None = None,
         by: Sequence[str] = (), level: float = 0.95, sample_id: str | None = None,
         id_column: str = "id") -> PlanResult:
    """Sample sizes for PPI intervals of width ``width`` per label (and group)."""
    book = study.codebook
    predictions = _check_request(book, width, level, predictions)
    frame = read_predictions(predictions, id_column)
    ids = frame[id_column].astype(str).tolist()
    evidence = _evidence(study, frame, ids, predictions, sample_id)
    groups = group_keys(study, frame, ids, by, predictions)
    records, warnings = _plan_rows(evidence, book, groups, by, width, level)
    table = pd.DataFrame.from_records(records)
    totals = _totals(table, by)
    source = "pilot" if evidence.pilot else "scores"
    run = Run.start(study, "estimate-plan")
    atomic.write_text(run.dir / "plan.csv", table.to_csv(index=False))
    run.write({"predictions": run.relative(predictions), "width": width, "level": level,
               "by": list(by), "source": source, "pilot_sample": evidence.pilot_id,
               "pilot_documents": len(evidence.pilot), "totals": totals,
               "warnings": warnings,
               "method": "expected Wilson-per-stratum + MOVER width of stratified PPI "
                         "(as `replicoder estimate`), smallest n by bisection",
               "output": "plan.csv"})
    return PlanResult(table, totals, source, len(evidence.pilot), run.run_id, warnings)
