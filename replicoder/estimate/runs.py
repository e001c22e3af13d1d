"""The steps `replicoder estimate` and `estimate regress` share: the validation sample a
run needs, the documents humans verified before it was drawn, and what the run records
(the predictions it read, the sample behind it, the files it wrote)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.estimate.inputs import Targets, labels_sha256
from replicoder.hashing import input_sha256
from replicoder.run import Run
from replicoder.store import StoredSample
from replicoder.study import Study

__all__ = ["known_among", "known_rows", "predictions_field", "required_sample", "sample_fields",
           "write_manifest"]


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


def _known(study: Study, targets: Targets, before: str | None) -> dict[str, np.ndarray]:
    """Documents humans verified before ``before`` (all verified ones when None)."""
    with study.store() as store:
        labels = store.verified_labels()
        first = store.first_decided()
    return {doc_id: targets.row(values, f"document {doc_id!r}")
            for doc_id, values in labels.items()
            if before is None or first.get(doc_id, before) < before}


def required_sample(study: Study, sample_id: str | None, needed: bool,
                    missing: str) -> StoredSample | None:
    """The named (or latest) sample when a method needs it or one is named; ``missing`` is
    the error when it is needed and the study has none."""
    sample = _sample(study, sample_id) if needed or sample_id else None
    if needed and sample is None:
        raise ReplicoderError(missing)
    return sample


def known_among(study: Study, targets: Targets, sample: StoredSample | None,
                ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The documents among ``ids`` humans verified before the sample was drawn (every
    verified one without a sample): their labels are known, not predicted."""
    among = set(ids)
    known = _known(study, targets, sample.created_at if sample else None)
    return {d: v for d, v in known.items() if d in among}


def predictions_field(run: Run, path: Path, documents: int, id_column: str) -> dict[str, Any]:
    """The manifest's record of the classified file a run read."""
    return {"path": run.relative(path), "sha256": input_sha256(path),
            "documents": documents, "id_column": id_column}


def sample_fields(sample: StoredSample | None, verified: dict[str, np.ndarray],
                  known: dict[str, np.ndarray], allow_incomplete: bool) -> dict[str, Any]:
    """The manifest's record of the validation sample and the labels the run used."""
    return {"sample_id": sample.sample_id if sample else None,
            "sample_design": sample.design if sample else None,
            "verified_documents": len(verified), "allow_incomplete": allow_incomplete,
            "known_before_sample": len(known),
            "verified_sha256": labels_sha256(verified, known)}


def write_manifest(run: Run, out: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """The run's manifest with the files in ``out``, copied there when ``out`` is not the
    run's own folder."""
    return run.write({**fields, "output": run.relative(out),
                      "outputs": sorted({"manifest.json", *(p.name for p in out.iterdir()
                                                            if not p.name.startswith("."))})},
                     copies=[out / "manifest.json"] if out != run.dir else [])


def known_rows(known: dict[str, np.ndarray], ids: Sequence[str]) -> dict[int, np.ndarray]:
    """Row in ``ids`` -> known label row, for the documents of ``known``."""
    row_of = {d: i for i, d in enumerate(ids)}
    return {row_of[d]: v for d, v in known.items()}
