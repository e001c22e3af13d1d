"""``train NAME --recipe best``: the most accurate single-label recipe measured on the bills,
in one command.

1. Draft NAME-draft: the user's settings with ``--with-tfidf --label-smoothing 0.1``,
   early-stopped on validation; validation picks the TF-IDF weight.
2. Refit NAME: the same settings on the training and validation documents for the draft's
   ``--epochs`` (its learning rate decays over all of them; refitting with only the best
   epoch lost 1.7 points, README), with the draft's TF-IDF weight, max length and
   ``--base-dtype bf16``.

Measured on the bills (README, ``train_refit_ls.json``): the refit alone gave 0.846 / 0.827
with one seed, 0.851 / 0.831 with another, in under 15 minutes on 2 CPU cores. The whole
command (``bench_recipe.py``): 0.846 with seed 0 in 30.6 minutes (36.8 on a slower day) and
0.851 with seed 1 in 32.8. A stopped run resumes: a finished draft is reused. Both runs'
manifests are kept; NAME's manifest names the draft.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from replicoder.errors import ReplicoderError
from replicoder.models.folder import ModelFolder
from replicoder.progress import Progress
from replicoder.study import Study
from replicoder.train.config import TrainConfig

__all__ = ["RECIPES", "check", "draft_name", "train_recipe"]

RECIPES = ("best",)
LABEL_SMOOTHING = 0.1


def draft_name(name: str) -> str:
    return f"{name}-draft"


def check(study: Study, config: TrainConfig, recipe: str) -> None:
    """A clear error where the recipe does not apply, before any work."""
    if recipe not in RECIPES:
        raise ReplicoderError(f"unknown recipe {recipe!r}; use one of: {', '.join(RECIPES)}")
    if study.codebook.multi_label:
        raise ReplicoderError("--recipe best refits with a TF-IDF ensemble, which works with "
                              "single-label codebooks only; this codebook is multi-label: "
                              "train without --recipe (thresholds are tuned on validation)")
    if config.mode != "classifier":
        raise ReplicoderError("--recipe best trains the classifier head; generative mode has "
                              "no TF-IDF ensemble or refit: train without --recipe, or with "
                              "--mode classifier")
    if config.with_tfidf is False:
        raise ReplicoderError("--recipe best is the classifier with the TF-IDF ensemble: leave "
                              "out --no-with-tfidf, or train without --recipe")
    if config.refit or config.tfidf_weight is not None:
        raise ReplicoderError("--recipe best runs the draft and the refit itself: leave out "
                              "--refit and --tfidf-weight")


def train_recipe(study: Study, name: str, config: TrainConfig, recipe: str = "best", *,
                 train_ids: Sequence[str] | None = None, progress: Progress | None = None,
                 stop_after: int | None = None, say: Callable[[str], None] | None = None
                 ) -> Any:
    """Run the draft (unless NAME-draft is finished already) and the refit; returns the
    refit's TrainResult, whose manifest's "recipe" holds both runs."""
    from replicoder.train import train

    check(study, config, recipe)
    ModelFolder.of(study.models_dir, name)  # the name is checked before any work
    draft = draft_name(name)
    folder = ModelFolder.of(study.models_dir, draft)
    smoothing = LABEL_SMOOTHING if config.label_smoothing is None else config.label_smoothing
    draft_config = dataclasses.replace(config, with_tfidf=True, label_smoothing=smoothing)
    if folder.finished:
        if say is not None:
            say(f"recipe best: reusing the finished draft {draft}")
        manifest = folder.manifest()
        metrics = folder_metrics(folder)
    else:
        if say is not None:
            say(f"recipe best, step 1 of 2: draft {draft} (--with-tfidf --label-smoothing "
                f"{smoothing})")
        first = train(study, draft, draft_config, train_ids=train_ids, progress=progress,
                      stop_after=stop_after, say=say)
        manifest, metrics = first.manifest, first.metrics
    drafted = manifest["config"]
    weight = float(metrics["tfidf_weight"])
    refit = dataclasses.replace(draft_config, refit=True, epochs=int(drafted["epochs"]),
                                lr=float(drafted["lr"]), auto_lr=False, auto_epochs=False,
                                tfidf_weight=weight, base_dtype="bf16",
                                max_length=int(drafted["max_length"]))
    if say is not None:
        say(f"recipe best, step 2 of 2: refit {name} on training + validation documents for "
            f"{refit.epochs} epochs, TF-IDF weight {weight:g} (the draft's), bf16 base")
    entry = {"name": recipe, "draft": {
        "model": draft, "run_id": manifest.get("run_id"),
        "adapter_sha256": manifest.get("adapter_sha256"),
        "validation_accuracy": metrics.get("subset_accuracy"),
        "ensemble_accuracy": metrics.get("ensemble_accuracy"), "tfidf_weight": weight,
        "epochs": int(drafted["epochs"]), "best_step": metrics.get("best_step")}}
    return train(study, name, refit, train_ids=train_ids, progress=progress,
                 stop_after=stop_after, say=say, extra={"recipe": entry})


def folder_metrics(folder: ModelFolder) -> dict[str, Any]:
    from replicoder.models.folder import METRICS, read_json

    return read_json(folder.path / METRICS)
