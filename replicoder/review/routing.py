"""A human routing queue (issue 30): `classify --route-below T --route-to review` puts the
documents the model is unsure of into the review queue with the model's labels as
proposals, and `export corpus` gives every document the humans' answer where one exists
and the model's elsewhere, saying whose answer each row holds."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.io.tables import read_table
from replicoder.predictions import Predictions
from replicoder.run import Run, now
from replicoder.store import Proposal
from replicoder.study import Study

__all__ = ["REVIEW", "annotator_name", "export_corpus", "record_route", "to_review"]

REVIEW = "review"


def annotator_name(model: str) -> str:
    """The name the model's proposals carry in the review app."""
    return f"model-{model}"


def to_review(study: Study, model: str, pred: Predictions, below: float
              ) -> tuple[dict[str, Any], int]:
    """Add the model's labels as proposals for the documents whose top score is under
    ``below`` (idempotent: a resumed job adds the same rows again) and give each to an
    assigned coder when the study uses assignments. Returns the output's extra columns
    and how many documents were routed."""
    assert pred.scores is not None
    low = [i for i in range(len(pred.doc_ids)) if float(pred.scores[i].max()) < below]
    used = ["model"] * len(pred.doc_ids)
    if low:
        ids = [pred.doc_ids[i] for i in low]
        with study.store() as store:
            known = {d.doc_id for d in store.documents(ids)}
            missing = [d for d in ids if d not in known]
            if missing:
                raise ReplicoderError(
                    f"--route-to review: {len(missing)} routed documents are not in the study "
                    f"(e.g. id {missing[0]!r}), so nobody could review them; import the "
                    "input first (`replicoder import FILE --id COLUMN`) and classify again "
                    "(the job resumes)")
            stamp = now(precise=True)
            name = annotator_name(model)
            proposals = [Proposal(pred.doc_ids[i], name, frozenset(pred.labels[i]), "ok",
                                  json.dumps(sorted(pred.labels[i])),
                                  {"model": model, "top_score": float(pred.scores[i].max()),
                                   "route_below": below}, stamp) for i in low]
            assigned = store.assignments()
            with store.transaction():
                store.add_proposals(proposals)
                if assigned:
                    coders = sorted({c for cs in assigned.values() for c in cs})
                    load = Counter({c: 0 for c in coders})
                    for cs in assigned.values():
                        load.update(cs)
                    pairs = []
                    for d in ids:
                        if d not in assigned:
                            who = min(coders, key=lambda c: (load[c], c))
                            load[who] += 1
                            pairs.append((d, who))
                    store.add_assignments(pairs, stamp)
        for i in low:
            used[i] = "model (queued for review)"
    extra = {"answered_by": used,
             "model_labels": [";".join(c for c in pred.codes if c in s) for s in pred.labels]}
    return extra, len(low)


def record_route(study: Study, run_id: str, model: str, below: float, routed: int) -> None:
    """Record the routing as a steered order (its reviews are no random sample)."""
    with study.store() as store:
        store.add_order(run_id, "route", now(precise=True),
                        {"model": model, "route_below": below, "routed": routed}, None,
                        store.decision_log_size())


def export_corpus(study: Study, predictions: Path, out: Path, id_column: str = "id"
                  ) -> tuple[int, dict[str, int], str]:
    """Every document of ``predictions`` with its final answer: the verified labels where
    humans reviewed it, the model's (or a routed annotator's) elsewhere. Columns: id,
    labels (codes joined by ';'), answered_by ('human' or 'model'), who (coders, or the
    model's name / the annotator), how ('single', 'agreed', 'adjudicated' or 'predicted'),
    model_labels. Returns (rows, count per answered_by, run id)."""
    suffix = Path(out).suffix.lower()
    if suffix not in (".csv", ".parquet", ".jsonl"):
        raise ReplicoderError(f"--out {out}: use .csv, .parquet or .jsonl")
    frame = read_table(Path(predictions), id_column)
    if "labels" not in frame.columns:
        raise ReplicoderError(f"{predictions}: no 'labels' column; give the output of "
                              "`replicoder classify`")
    codes = study.codebook.codes
    with study.store() as store:
        verified = {v.doc_id: v for v in store.verified()}
    model = frame["model"].astype(str) if "model" in frame.columns else \
        pd.Series(["model"] * len(frame))
    routed = frame["answered_by"].astype(str) if "answered_by" in frame.columns else None
    rows = []
    for i, (doc_id, labels) in enumerate(zip(frame[id_column].astype(str), frame["labels"],
                                             strict=True)):
        predicted = "" if labels is None or (isinstance(labels, float) and labels != labels) \
            else str(labels)
        v = verified.get(doc_id)
        if v is not None:
            order = {c: j for j, c in enumerate(codes)}
            final = ";".join(sorted(v.labels, key=lambda c: (order.get(c, len(order)), c)))
            rows.append({"id": doc_id, "labels": final, "answered_by": "human",
                         "who": v.decided_by, "how": v.how, "model_labels": predicted})
        else:
            by = routed.iloc[i] if routed is not None else "model"
            who = model.iloc[i] if by.startswith("model") else by
            rows.append({"id": doc_id, "labels": predicted,
                         "answered_by": "model" if by.startswith("model") else "annotator",
                         "who": who, "how": "predicted", "model_labels": predicted})
    table = pd.DataFrame.from_records(rows, columns=["id", "labels", "answered_by", "who",
                                                     "how", "model_labels"])
    if suffix == ".csv":
        data = table.to_csv(index=False).encode("utf-8")
    elif suffix == ".jsonl":
        data = table.to_json(orient="records", lines=True, force_ascii=False).encode("utf-8")
    else:
        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
        data = buf.getvalue()
    atomic.write_bytes(Path(out), data)
    counts = {k: int(n) for k, n in table["answered_by"].value_counts().items()}
    run = Run.start(study, "export-corpus")
    run.write({"predictions": run.relative(predictions), "output": run.relative(out),
               "output_sha256": hashlib.sha256(data).hexdigest(), "rows": len(table),
               "answered_by": counts},
              copies=[Path(out).with_name(Path(out).name + ".manifest.json")])
    return len(table), counts, run.run_id
