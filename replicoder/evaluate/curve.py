"""Learning curve: train on growing seeded subsets of the train part, test on the same set.

For each repeat r the train part is shuffled with seed ``seed + r`` and the first n
documents train the model of size n (subsets are nested). Every model is evaluated on
the whole test part with bootstrap intervals; runs/<id>/ holds metrics.json,
predictions.parquet, manifest.json, learning_curve.png and report.html.

The trainer is injectable: ``trainer(study, name, train_ids, seed) -> (predict, info)``
where ``predict(EvalDocs) -> Predictions``. Built in: fine-tuning with
:func:`replicoder.train.train` (the default) and the TF-IDF baseline (``"tfidf"``).
Fine-tuned models are kept in models/lc-<key>-n<size>-r<repeat>: a re-run with the same
settings reuses finished models and resumes an interrupted one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.evaluate.compare import EvalDocs, Source, load_parts, score, write_run
from replicoder.models.tfidf import NAME as TFIDF
from replicoder.models.tfidf import TfidfSvm
from replicoder.predictions import Predictions
from replicoder.progress import Progress
from replicoder.run import Run
from replicoder.study import Study

__all__ = ["DEFAULT_SIZES", "finetune_trainer", "learning_curve", "parse_sizes", "resolve_sizes",
           "tfidf_trainer"]

DEFAULT_SIZES: tuple[int | str, ...] = (100, 250, 500, 1000, 2000, "all")
Trainer = Callable[[Study, str, list[str], int], tuple[Source, dict[str, Any]]]


def parse_sizes(text: str) -> list[int | str]:
    """"100,250,all" -> [100, 250, "all"]; a clear error for anything else."""
    out: list[int | str] = []
    for item in (s.strip() for s in text.split(",") if s.strip()):
        if item == "all":
            out.append(item)
        elif item.isdigit():
            out.append(int(item))
        else:
            raise ReplicoderError(f"--sizes: {item!r} is not a number or 'all' (e.g. 100,500,all)")
    if not out:
        raise ReplicoderError("--sizes is empty; give sizes such as 100,500,all")
    return out


def resolve_sizes(sizes: Sequence[int | str], n_train: int) -> list[int]:
    """Sorted distinct sizes; "all" and sizes above the train part become ``n_train``."""
    out: set[int] = set()
    for s in sizes:
        if s == "all":
            out.add(n_train)
        elif isinstance(s, int) and not isinstance(s, bool) and s >= 2:
            out.add(min(s, n_train))
        else:
            raise ReplicoderError(f"training-set size {s!r}: use a whole number of 2 or more, "
                                  "or 'all'")
    return sorted(out)


def tfidf_trainer(study: Study, name: str, train_ids: list[str], seed: int
                  ) -> tuple[Source, dict[str, Any]]:
    """The TF-IDF + linear SVM baseline trained on ``train_ids``."""
    from replicoder.splits import labelled

    with study.store() as store:
        truth = labelled(store)
        docs = store.documents(train_ids)
    model = TfidfSvm(seed=seed).fit([d.text for d in docs], [truth[d.doc_id] for d in docs],
                                    study.codebook.codes, multi_label=study.codebook.multi_label,
                                    intensities=study.codebook.intensities)

    def predict(part: EvalDocs) -> Predictions:
        sets, scores = model.predict(part.texts)
        return Predictions(name, part.doc_ids, sets, model.codes, scores)

    return predict, {"kind": "baseline", **model.params()}


def finetune_trainer(base: str = "embedded", mode: str = "classifier", *,
                     progress: Progress | None = None, **train_kwargs: Any) -> Trainer:
    """Fine-tuning with replicoder.train (LoRA); ``train_kwargs`` go to TrainConfig."""

    def trainer(study: Study, name: str, train_ids: list[str], seed: int
                ) -> tuple[Source, dict[str, Any]]:
        from replicoder.models import ModelFolder, load_trained
        from replicoder.train import TrainConfig, train

        if not ModelFolder.of(study.models_dir, name).finished:
            config = TrainConfig.from_dict({"base": base, "mode": mode, "seed": seed,
                                            **train_kwargs})
            train(study, name, config, train_ids=train_ids, progress=progress)
        trained = load_trained(study, name)

        def predict(part: EvalDocs) -> Predictions:
            return trained.predict(part.texts, part.doc_ids)

        return predict, {"kind": "fine-tuned", "base": base, "mode": mode,
                         "adapter_sha256": trained.adapter_sha256,
                         "config": trained.settings}

    return trainer


def learning_curve(
    study: Study,
    sizes: Sequence[int | str] = DEFAULT_SIZES,
    repeats: int = 1,
    base: str = "embedded",
    mode: str = "classifier",
    seed: int = 0,
    *,
    trainer: Trainer | str | None = None,
    n_boot: int = 1000,
    progress: Progress | None = None,
    **train_kwargs: Any,
) -> dict[str, Any]:
    """Train one model per (size, repeat), evaluate each on the test part, write runs/<id>/.

    ``trainer``: None (fine-tune ``base`` in ``mode`` with ``train_kwargs``), "tfidf", or a
    callable. Returns the metrics.json dict: "curve" is a list of {size, repeat, model,
    train_ids_sha256, metrics (metrics.evaluate + "ci")}, "models" the same by model name.
    """
    if repeats < 1:
        raise ReplicoderError(f"--repeats must be at least 1, not {repeats}")
    if trainer is None:
        from replicoder.train.config import TrainConfig

        TrainConfig.from_dict({"base": base, "mode": mode, **train_kwargs})  # fail early
        trainer_fn, label = finetune_trainer(base, mode, progress=progress, **train_kwargs), \
            f"fine-tuned {base}"
        settings: dict[str, Any] = {"base": base, "mode": mode, **train_kwargs}
    elif trainer == TFIDF:
        trainer_fn, label, settings = tfidf_trainer, "TF-IDF + linear SVM", {"baseline": TFIDF}
    elif isinstance(trainer, str):
        raise ReplicoderError(f"unknown trainer {trainer!r}; use 'tfidf' or leave it out to "
                              "fine-tune the base model")
    else:
        trainer_fn, label = trainer, getattr(trainer, "__name__", "custom")
        settings = dict(getattr(trainer, "settings", {}))
    docs = load_parts(study, ["train", "test"])
    train_ids, test = docs["train"].doc_ids, docs["test"]
    plan = resolve_sizes(sizes, len(train_ids))
    key = hashlib.sha256(json.dumps(
        [label, settings, seed, docs["train"].sha256()], sort_keys=True, default=str
    ).encode()).hexdigest()[:10]
    run = Run.start(study, "learning-curve")
    result: dict[str, Any] = {
        "run_id": run.run_id, "trainer": label, "trainer_settings": settings,
        "sizes": plan, "requested_sizes": [str(s) for s in sizes], "repeats": repeats,
        "seed": seed, "split": "test", "parts": ["test"], "codes": study.codebook.codes,
        "multi_label": study.codebook.multi_label, "n_boot": n_boot,
        "documents": {p: {"n": len(d.doc_ids), "sha256": d.sha256()} for p, d in docs.items()},
        "curve": [], "models": {},
    }
    rows: list[tuple[str, EvalDocs, Predictions]] = []
    for rep in range(repeats):
        order = np.random.default_rng(seed + rep).permutation(len(train_ids))
        for size in plan:
            subset = [train_ids[i] for i in sorted(order[:size])]
            name = f"lc-{key}-n{size}-r{rep}"
            predict, info = trainer_fn(study, name, subset, seed + rep)
            pred = predict(test)
            rows.append((name, test, pred))
            scored = score(study, pred, test, n_boot, seed)
            ids_sha = hashlib.sha256("\n".join(subset).encode()).hexdigest()
            result["curve"].append({"size": size, "repeat": rep, "model": name,
                                    "train_ids_sha256": ids_sha, "metrics": scored})
            result["models"][name] = {**info, "size": size, "repeat": rep,
                                      "train_ids_sha256": ids_sha, "parts": {"test": scored}}
    write_run(run, result, rows)
    return result
