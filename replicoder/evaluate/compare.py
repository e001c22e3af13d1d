"""Evaluate models side by side on the same documents: the paper's train and test rows.

Sources of predictions, each evaluated as a "model":
- ``models``: fine-tuned models in models/NAME, or ``zero-shot`` / ``zero-shot:BASE`` (the
  base model prompted with the codebook, never fine-tuned);
- ``baseline="tfidf"``: TF-IDF + linear SVM trained on the split's train part;
- ``annotators``: each LLM annotator's proposals in study.db, plus the crowd's majority
  vote and union (:mod:`replicoder.evaluate.crowd`: unparsed answers do not vote);
- ``external``: predictions made by any other system, read from files
  (:mod:`replicoder.evaluate.external`); a document the file lacks counts as "no label".
A graded study (codebook with intensities) is scored with :mod:`replicoder.metrics.graded`:
the usual metrics over presence plus intensity accuracy, FN/FP rates and graded Jaccard.
The truth is each document's gold label set (reviewers' verified labels where no gold).

An annotator is scored on the documents it answered, not on the whole part: a document
it was never asked about is left out, an unparsed answer counts as an answer with no
label (the annotator saw the document and failed). The crowd is scored on the documents
any of its annotators answered. ``common_subset=True`` scores every model, annotators and
the rest, on the documents every annotator answered, so that all rows are comparable.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.evaluate import crowd as aggregate
from replicoder.evaluate.external import read_external
from replicoder.hashing import file_sha256
from replicoder.metrics import graded as graded_metrics
from replicoder.metrics import labelsets as metrics
from replicoder.metrics import paired
from replicoder.models.folder import ModelFolder
from replicoder.models.size import parameter_count
from replicoder.models.tfidf import NAME as TFIDF
from replicoder.models.tfidf import TfidfSvm
from replicoder.predictions import Predictions
from replicoder.review.acceptance import acceptance_data
from replicoder.run import MANIFEST, Run, write_json
from replicoder.splits import PARTS, ensure_split, labelled
from replicoder.store import Proposal
from replicoder.study import Study

__all__ = ["BASELINES", "CROWD", "EvalDocs", "ExternalSpec", "SETTINGS", "ZERO_SHOT",
           "answered", "baseline_source", "crowd_sources", "evaluate_models", "external_source",
           "load_parts", "model_source",
           "predictions_parquet", "score", "write_run"]

BASELINES = (TFIDF,)
ZERO_SHOT = "zero-shot"
# sources scored on the documents they answered rather than the whole part
CROWD = ("annotator", "crowd")
# provenance fields of an annotator's proposals that say how they were made
SETTINGS = ("backend", "model", "model_id", "params", "template", "template_sha256")


@dataclass(frozen=True)
class ExternalSpec:
    """How to read outside predictions files (see
    :func:`replicoder.evaluate.external.read_external`)."""

    id_column: str = "id"
    label_column: str = "labels"
    intensity_column: str | None = None
    drop_unknown: bool = False


@dataclass
class EvalDocs:
    """The documents of one part of the split: ids, texts and true label sets (same order)."""

    part: str
    doc_ids: list[str]
    texts: list[str]
    truth: list[frozenset[str]]

    def only(self, ids: Collection[str]) -> EvalDocs:
        """The documents among ``ids``, in this part's order."""
        keep = [i for i, d in enumerate(self.doc_ids) if d in ids]
        return EvalDocs(self.part, [self.doc_ids[i] for i in keep],
                        [self.texts[i] for i in keep], [self.truth[i] for i in keep])

    def sha256(self) -> str:
        h = hashlib.sha256()
        for doc_id, text, labels in zip(self.doc_ids, self.texts, self.truth, strict=True):
            h.update(f"{doc_id}\t{text}\t{';'.join(sorted(labels))}\n".encode())
        return h.hexdigest()


def load_parts(study: Study, parts: Sequence[str]) -> dict[str, EvalDocs]:
    """Each part's labelled documents; clear errors for no labels or an empty part."""
    for part in parts:
        if part not in PARTS:
            raise ReplicoderError(f"unknown split part {part!r}; use one of: {', '.join(PARTS)}")
    with study.store() as store:
        truth = labelled(store)
    if not truth:
        raise ReplicoderError(
            f"{study.root}: no document has labels to evaluate against; import a file with "
            "--labels or review LLM proposals first"
        )
    assignment = ensure_split(study)
    out: dict[str, EvalDocs] = {}
    with study.store() as store:
        for part in parts:
            ids = [d for d in truth if assignment.get(d) == part]
            if not ids:
                raise ReplicoderError(
                    f"{study.root}: the {part} part of the split has no labelled documents; "
                    "label more documents (the split keeps 20% for test, 10% validation)"
                )
            docs = store.documents(ids)
            out[part] = EvalDocs(part, [d.doc_id for d in docs], [d.text for d in docs],
                                 [truth[d.doc_id] for d in docs])
    return out


# A source gives predictions for one part's documents.
Source = Callable[[EvalDocs], Predictions]


def baseline_source(study: Study, name: str, train: EvalDocs, seed: int
                    ) -> tuple[Source, dict[str, Any]]:
    if name not in BASELINES:
        raise ReplicoderError(f"unknown baseline {name!r}; use one of: {', '.join(BASELINES)}")
    book = study.codebook
    model = TfidfSvm(seed=seed).fit(train.texts, train.truth, book.codes,
                                    multi_label=book.multi_label, intensities=book.intensities)

    def predict(docs: EvalDocs) -> Predictions:
        sets, scores = model.predict(docs.texts)
        return Predictions(name, docs.doc_ids, sets, model.codes, scores)

    return predict, {"kind": "baseline", **model.params(), "train_sha256": train.sha256()}


def model_source(study: Study, name: str) -> tuple[Source, dict[str, Any]]:
    """A fine-tuned model of models/NAME, or the zero-shot base model."""
    if name == ZERO_SHOT or name.startswith(ZERO_SHOT + ":"):
        from replicoder.models import resolve, zero_shot

        base = name.partition(":")[2] or "embedded"
        scorer = zero_shot(study, base)

        zero_info: dict[str, Any] = {"kind": "zero-shot", "base": base,
                                     "prompt": scorer.instruction,
                                     "base_sha256": resolve(base).sha256,
                                     "max_length": scorer.max_length, "cut": {},
                                     "parameters": parameter_count(scorer.model)}

        def predict_zero(docs: EvalDocs) -> Predictions:
            sets, scores, _raw = scorer.predict(docs.texts)
            zero_info["cut"][docs.part] = sum(scorer.cuts(docs.texts))
            return Predictions(name, docs.doc_ids, sets, study.codebook.values, scores)

        return predict_zero, zero_info
    ModelFolder.of(study.models_dir, name).require()  # fail before loading torch
    from replicoder.models import load_trained

    trained = load_trained(study, name)
    made = trained.manifest.get("base", {})
    info: dict[str, Any] = {"kind": "fine-tuned", "adapter_sha256": trained.adapter_sha256,
                            "base": trained.base, "mode": trained.mode,
                            "base_sha256": made.get("sha256", ""),
                            "parameters": made.get("parameters")
                            or parameter_count(trained.scorer.model, frozen_only=True),
                            "max_length": trained.max_length, "long": trained.long, "cut": {}}

    def predict(docs: EvalDocs) -> Predictions:
        pred = trained.predict(docs.texts, docs.doc_ids)
        info["cut"][docs.part] = sum((pred.provenance or {}).get("cut", []))
        return pred

    return predict, info


def external_source(study: Study, name: str, path: Path, spec: ExternalSpec
                    ) -> tuple[Source, dict[str, Any]]:
    """Predictions from a file; documents the file lacks get no label (counted per part)."""
    ext = read_external(path, study.codebook, id_column=spec.id_column,
                        label_column=spec.label_column, intensity_column=spec.intensity_column,
                        drop=spec.drop_unknown)
    info: dict[str, Any] = {"kind": "external", **ext.info(), "sha256": file_sha256(path),
                            "missing": {}}

    def predict(docs: EvalDocs) -> Predictions:
        info["missing"][docs.part] = sum(d not in ext.sets for d in docs.doc_ids)
        return Predictions(name, docs.doc_ids,
                           [ext.sets.get(d, frozenset()) for d in docs.doc_ids],
                           study.codebook.codes)

    return predict, info


def crowd_sources(study: Study, annotators: bool | list[str]
                  ) -> list[tuple[str, Source, dict[str, Any]]]:
    """One source per annotator, plus the crowd's majority and union when there are 2+."""
    with study.store() as store:
        known = store.annotators()
    names = known if annotators is True else list(annotators or [])
    unknown = [a for a in names if a not in known]
    if unknown:
        have = ", ".join(known) if known else "none: run `replicoder annotate` first"
        raise ReplicoderError(f"unknown annotator(s) {', '.join(unknown)}; annotators: {have}")
    if annotators is True and not names:
        raise ReplicoderError(f"{study.root}: no annotator has proposed labels yet; run "
                              "`replicoder annotate` first, or leave out --annotators")

    def answers(docs: EvalDocs) -> list[Proposal]:
        with study.store() as store:
            return [p for p in store.proposals(docs.doc_ids) if p.annotator in names]

    def one(name: str) -> Source:
        def predict(docs: EvalDocs) -> Predictions:
            mine = {p.doc_id: p for p in answers(docs) if p.annotator == name}
            seen = [d for d in docs.doc_ids if d in mine]
            ok = sum(mine[d].status == "ok" for d in seen)
            settings = {json.dumps({k: p.provenance.get(k) for k in SETTINGS}, sort_keys=True)
                        for p in mine.values()}
            counts = {"ok": ok, "unparsed": len(seen) - ok,
                      "missing": len(docs.doc_ids) - len(seen),
                      "settings": [json.loads(x) for x in sorted(settings)]}
            sets = [mine[d].labels if mine[d].status == "ok" else frozenset() for d in seen]
            return Predictions(name, seen, sets, study.codebook.codes,
                               provenance={"answers": counts})
        return predict

    def combined(rule: str) -> Source:
        def predict(docs: EvalDocs) -> Predictions:
            props = answers(docs)
            got = aggregate.majority(props, names) if rule == "majority" else {
                d: frozenset(codes) for d, codes in aggregate.union(props, names).items()}
            seen = {p.doc_id for p in props}
            ids = [d for d in docs.doc_ids if d in seen]
            return Predictions(f"crowd-{rule}", ids, [got.get(d, frozenset()) for d in ids],
                               study.codebook.codes)
        return predict

    out: list[tuple[str, Source, dict[str, Any]]] = [
        (a, one(a), {"kind": "annotator"}) for a in names]
    if len(names) > 1:
        out += [(f"crowd-{k}", combined(k), {"kind": "crowd", "rule": k, "annotators": names})
                for k in ("majority", "union")]
    return out


def answered(study: Study, names: Sequence[str], doc_ids: Sequence[str]) -> set[str]:
    """The documents among ``doc_ids`` that every annotator in ``names`` answered (ok or
    unparsed)."""
    with study.store() as store:
        props = store.proposals(list(doc_ids))
    by: dict[str, set[str]] = {n: set() for n in names}
    for p in props:
        if p.annotator in by:
            by[p.annotator].add(p.doc_id)
    return set(doc_ids).intersection(*by.values())


def score(study: Study, pred: Predictions, docs: EvalDocs, n_boot: int, seed: int
          ) -> dict[str, Any]:
    """Metrics and bootstrap intervals of one model on one part."""
    book = study.codebook
    codes = book.codes
    got = pred.by_id()
    missing = [d for d in docs.doc_ids if d not in got]
    if missing:
        raise ReplicoderError(f"model {pred.model!r} gave no prediction for document "
                              f"{missing[0]!r} ({len(missing)} missing)")
    sets = [got[d] for d in docs.doc_ids]
    try:
        if book.graded:
            result = graded_metrics.evaluate(docs.truth, sets, codes, book.intensities)
            result["ci"] = graded_metrics.bootstrap_ci(docs.truth, sets, codes,
                                                       book.intensities, n_boot=n_boot,
                                                       seed=seed)
        else:
            result = metrics.evaluate(docs.truth, sets, codes)
            result["ci"] = metrics.bootstrap_ci(docs.truth, sets, codes, n_boot=n_boot,
                                                seed=seed)
    except ValueError as exc:
        raise ReplicoderError(f"model {pred.model!r} on the {docs.part} documents: {exc}"
                              ) from exc
    return result


def predictions_parquet(rows: list[tuple[str, EvalDocs, Predictions]]) -> bytes:
    """Long table: model, part, doc_id, gold, predicted, scores (codebook order or null)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, list[Any]] = {k: [] for k in ("model", "part", "doc_id", "gold",
                                                  "predicted", "scores")}
    for name, docs, pred in rows:
        got = pred.by_id()
        index = {d: i for i, d in enumerate(pred.doc_ids)}
        for doc_id, truth in zip(docs.doc_ids, docs.truth, strict=True):
            cols["model"].append(name)
            cols["part"].append(docs.part)
            cols["doc_id"].append(doc_id)
            cols["gold"].append(sorted(truth))
            cols["predicted"].append(sorted(got[doc_id]))
            cols["scores"].append(None if pred.scores is None else
                                  [float(x) for x in np.asarray(pred.scores[index[doc_id]])])
    table = pa.table(cols, schema=pa.schema([
        ("model", pa.string()), ("part", pa.string()), ("doc_id", pa.string()),
        ("gold", pa.list_(pa.string())), ("predicted", pa.list_(pa.string())),
        ("scores", pa.list_(pa.float64()))]))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def evaluate_models(
    study: Study,
    models: list[str],
    *,
    annotators: bool | list[str] = False,
    baseline: str | None = TFIDF,
    split: str = "test",
    n_boot: int = 1000,
    train_rows: bool = True,
    seed: int | None = None,
    common_subset: bool = False,
    external: dict[str, Path] | None = None,
    external_spec: ExternalSpec | None = None,
    parameters: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Evaluate every model on the same documents and write runs/<run_id>/.

    ``external``: name -> predictions file of another system, read with ``external_spec``.
    ``parameters``: name -> the model's number of parameters, for models that do not know
    it (a predictions file); with two sizes or more the report plots metrics against size.

    Annotators (and the crowd) are scored on the documents they answered; with
    ``common_subset`` every model is scored only on the documents every annotator answered.

    Returns {"run_id", "run_dir", "split", "parts", "codes", "multi_label",
    "documents": part -> {"n", "sha256"}, "models": name -> {"kind", ..., "parts": part ->
    metrics.evaluate(...) + "ci"}}; the same dict is runs/<run_id>/metrics.json.
    """
    _check_request(models, bool(annotators), baseline, bool(external))
    seed = study.seed if seed is None else seed
    crowd = crowd_sources(study, annotators) if annotators else []
    parts = (["train"] if train_rows and split != "train" else []) + [split]
    docs = load_parts(study, parts)
    train_docs: EvalDocs | None = docs.get("train")
    crowd_names = [name for name, _, info in crowd if info["kind"] == "annotator"]
    if common_subset:
        docs = _common(study, crowd_names, docs)
    if train_docs is None and baseline:
        train_docs = load_parts(study, ["train"])["train"]
    sources = [(name, *model_source(study, name)) for name in models] + crowd
    for name, path in (external or {}).items():
        sources.append((name, *external_source(study, name, path,
                                                 external_spec or ExternalSpec())))
    if baseline:
        assert train_docs is not None
        sources.append((baseline, *baseline_source(study, baseline, train_docs, seed)))
    _check_names([s[0] for s in sources], parameters or {})

    run = Run.start(study, "evaluate")
    result: dict[str, Any] = {
        "run_id": run.run_id, "split": split,
        "common_subset": {"annotators": crowd_names} if common_subset else None,
        "parts": parts, "codes": study.codebook.codes,
        "multi_label": study.codebook.multi_label,
        "intensities": list(study.codebook.intensities), "n_boot": n_boot, "seed": seed,
        "documents": {p: {"n": len(d.doc_ids), "sha256": d.sha256()} for p, d in docs.items()},
        "models": {},
    }
    with study.store() as store:
        accepted = acceptance_data(store, seed)
    if accepted["acceptance"]:
        result["review"] = accepted
    rows: list[tuple[str, EvalDocs, Predictions]] = []
    for name, predict, info in sources:
        result["models"][name] = _score_source(study, name, predict, info, docs, rows,
                                               (parameters or {}).get(name), n_boot, seed)
    if baseline:
        _versus(result, rows, baseline, n_boot, seed)
    write_run(run, result, rows)
    return result



def _check_request(models: list[str], annotators: bool, baseline: str | None,
                   external: bool) -> None:
    """Refuse a request that names nothing, a model twice or an unknown baseline."""
    if len(set(models)) != len(models):
        raise ReplicoderError(f"a model is named twice in {models}")
    if not models and not annotators and not baseline and not external:
        raise ReplicoderError("nothing to evaluate: name a model, --annotators, --baseline "
                              "or --predictions")
    if baseline and baseline not in BASELINES:
        raise ReplicoderError(f"unknown baseline {baseline!r}; use one of: "
                              f"{', '.join(BASELINES)}")


def _check_names(names: list[str], parameters: dict[str, float]) -> None:
    """Every evaluated source has its own name; --params names one and is positive."""
    if len(set(names)) != len(names):
        raise ReplicoderError(f"two models share a name in {names}; rename one")
    for name, count in parameters.items():
        if name not in names:
            raise ReplicoderError(f"--params {name}: no model of that name is evaluated "
                                  f"(models: {', '.join(names)})")
        if not count > 0:
            raise ReplicoderError(f"--params {name}={count}: give a positive number, e.g. 7e9")


def _score_source(study: Study, name: str, predict: Source, info: dict[str, Any],
                  docs: dict[str, EvalDocs], rows: list[tuple[str, EvalDocs, Predictions]],
                  parameters: float | None, n_boot: int, seed: int) -> dict[str, Any]:
    """One model's entry: its metrics on every part (a crowd member on the documents it
    answered); appends what it predicted to ``rows`` for the paired comparisons."""
    entry: dict[str, Any] = {**info, "parts": {}}
    if parameters is not None:
        entry["parameters"] = float(parameters)
    for part, part_docs in docs.items():
        pred = predict(part_docs)
        if info["kind"] == "annotator" and pred.provenance:
            entry.setdefault("answers", {})[part] = pred.provenance["answers"]
        scored = part_docs.only(pred.doc_ids) if info["kind"] in CROWD else part_docs
        if not scored.doc_ids:  # an annotator that answered none of this part
            continue
        rows.append((name, scored, pred))
        entry["parts"][part] = score(study, pred, scored, n_boot, seed)
    return entry


def _versus(result: dict[str, Any], rows: list[tuple[str, EvalDocs, Predictions]],
            baseline: str, n_boot: int, seed: int) -> None:
    """Each model's paired difference from the baseline on the same documents
    (:mod:`replicoder.metrics.paired`), as ``parts[part]["vs_baseline"]``."""
    multi = bool(result["multi_label"] or result["intensities"])
    metric = "jaccard" if multi else "subset_accuracy"
    scores: dict[tuple[str, str], dict[str, float]] = {}
    for name, docs, pred in rows:
        got = pred.by_id()
        values = paired.per_document(docs.truth, [got[d] for d in docs.doc_ids],
                                     result["codes"], multi)
        scores[name, docs.part] = dict(zip(docs.doc_ids, values.tolist(), strict=True))
    for (name, part), by_doc in scores.items():
        base = scores.get((baseline, part))
        if name == baseline or base is None or set(by_doc) - set(base):
            continue
        ids = sorted(by_doc)
        result["models"][name]["parts"][part]["vs_baseline"] = {
            "baseline": baseline, **paired.difference(
                np.array([by_doc[d] for d in ids]), np.array([base[d] for d in ids]),
                metric=metric, n_boot=n_boot, seed=seed)}


def _common(study: Study, names: list[str], docs: dict[str, EvalDocs]
            ) -> dict[str, EvalDocs]:
    """Each part restricted to the documents every annotator in ``names`` answered."""
    if not names:
        raise ReplicoderError("--common-subset keeps the documents every annotator answered; "
                              "name annotators with --annotators or --annotator")
    out: dict[str, EvalDocs] = {}
    for part, part_docs in docs.items():
        out[part] = part_docs.only(answered(study, names, part_docs.doc_ids))
        if not out[part].doc_ids:
            hint = " (leave out the train rows: --no-train-rows)" if part == "train" else ""
            raise ReplicoderError(f"no {part} document was answered by every annotator "
                                  f"({', '.join(names)}); leave out --common-subset or an "
                                  f"annotator{hint}")
    return out


def write_run(run: Run, result: dict[str, Any],
              rows: list[tuple[str, EvalDocs, Predictions]]) -> Path:
    """runs/<id>/: predictions.parquet, figures, report.html, metrics.json, manifest.json."""
    from replicoder.evaluate import report

    run_dir = run.dir
    run_dir.mkdir(parents=True, exist_ok=True)
    result["run_dir"] = str(run_dir)
    atomic.write_bytes(run_dir / "predictions.parquet", predictions_parquet(rows))
    report.write_report(run_dir, result, run.study.codebook, run.kind)
    write_json(run_dir / "metrics.json", result)
    run.write({
        "split_part": result["split"], "parts": result["parts"],
        "bootstrap": {"n_boot": result["n_boot"], "seed": result["seed"], "level": 0.95},
        "documents": result["documents"],
        "models": {k: {x: y for x, y in v.items() if x != "parts"}
                   for k, v in result["models"].items()},
        "files": sorted({MANIFEST, *(p.name for p in run_dir.iterdir()
                                     if not p.name.startswith("."))}),
    })
    return run_dir
