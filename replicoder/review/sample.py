"""`replicoder review sample`: draw a random validation sample and queue it for review.

The population is the study's documents or the documents of a classified output (its ``id``
column). The sample design goes to study.db so that `replicoder estimate` knows which
documents were drawn, from what, and with which inclusion probabilities.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replicoder.errors import ReplicoderError
from replicoder.hashing import input_sha256
from replicoder.io.tables import column_values, read_ids_and_columns
from replicoder.review import design as sampling
from replicoder.run import Run, now, write_json
from replicoder.study import Study

__all__ = ["SampleResult", "draw_sample", "population"]


@dataclass(frozen=True)
class SampleResult:
    sample_id: str
    doc_ids: list[str]
    design: dict[str, Any]
    assigned: dict[str, int]


def population(study: Study, source: Path | None, id_column: str = "id",
               strata: str | None = None) -> tuple[list[str], list[str] | None, dict[str, Any]]:
    """The population's ids, each one's stratum (or None) and a description of the source."""
    if source is None:
        with study.store() as store:
            ids = store.doc_ids()
        if not ids:
            raise ReplicoderError(f"{study.root}: the study has no documents; import some first")
        described: dict[str, Any] = {"study": study.root.resolve().name}
        frame_columns: dict[str, list[Any]] = {}
    else:
        ids, frame_columns = read_ids_and_columns(source, id_column, [strata] if strata else [])
        described = {"path": str(Path(source).resolve()), "sha256": input_sha256(Path(source)),
                     "id_column": id_column}
    values = None
    if strata:
        values = [str(v) for v in column_values(study, ids, strata, frame_columns, source)]
    return ids, values, described


def draw_sample(study: Study, n: int, seed: int, *, source: Path | None = None,
                id_column: str = "id", strata: str | None = None,
                coders: Sequence[str] | None = None, overlap: float = 0.0) -> SampleResult:
    """Draw ``n`` documents (stratified by ``strata`` if given), record the design and, with
    ``coders``, assign the sample to them for review (replacing earlier assignments)."""
    ids, values, described = population(study, source, id_column, strata)
    drawn = sampling.draw(ids, n, seed, values, strata)
    with study.store() as store:
        known = {d.doc_id for d in store.documents(drawn.doc_ids)}
    missing = [d for d in drawn.doc_ids if d not in known]
    if missing:
        raise ReplicoderError(
            f"{len(missing)} of the {n} sampled documents (e.g. id {missing[0]!r}) are not in "
            "the study, so they cannot be reviewed; import the classified file's documents "
            "(`replicoder import FILE --id COLUMN`) and draw the sample again (same seed, "
            "same sample)"
        )
    run = Run.start(study, "review-sample")
    stamp, sample_id = now(precise=True), run.run_id
    design = {**drawn.design, "source": described, "created_at": stamp}
    assigned: dict[str, int] = {}
    if coders:
        from replicoder.review.assignment import assign

        result = assign(study, coders, overlap, seed=seed, doc_ids=drawn.doc_ids,
                        order="random")
        assigned = result.per_coder
        design["assignment_run"] = result.run_id
    with study.store() as store:
        with store.transaction():
            store.add_sample(sample_id, stamp, design,
                             list(zip(drawn.doc_ids, drawn.strata, strict=True)))
            run.write({"sample_id": sample_id, "design": design, "assigned": assigned},
                      store=store)
    write_json(run.dir / "sample.json",
               {"sample_id": sample_id, "design": design, "doc_ids": drawn.doc_ids,
                "strata": drawn.strata})
    return SampleResult(sample_id, drawn.doc_ids, json.loads(json.dumps(design)), assigned)
