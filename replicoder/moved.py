"""Old import paths of modules that moved into stage packages keep working.

Until version 0.2 the library was flat (``replicoder.freeze``, ``replicoder.ppi``, ...) and
a few modules had the name of a function of their package (``replicoder.review.assign``). A
user's script may still import those paths: each one is answered with the module's new home
(the same module object, not a copy) and a ``DeprecationWarning`` naming it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

__all__ = ["MOVED", "install"]

MOVED = {
    "replicoder.codebook": "replicoder.labels.codebook",
    "replicoder.graded": "replicoder.labels.graded",
    "replicoder.answer_text": "replicoder.labels.answer_text",
    "replicoder.parse": "replicoder.labels.parse",
    "replicoder.parse_graded": "replicoder.labels.parse_graded",
    "replicoder.readers": "replicoder.io.readers",
    "replicoder.writers": "replicoder.io.writers",
    "replicoder.tables": "replicoder.io.tables",
    "replicoder.graded_metrics": "replicoder.metrics.graded",
    "replicoder.paired": "replicoder.metrics.paired",
    "replicoder.agreement": "replicoder.annotate.agreement",
    "replicoder.baseline": "replicoder.models.tfidf",
    "replicoder.external": "replicoder.evaluate.external",
    "replicoder.aggregate": "replicoder.evaluate.crowd",
    "replicoder.learning_curve": "replicoder.evaluate.curve",
    "replicoder.report": "replicoder.evaluate.report",
    "replicoder.classify_ray": "replicoder.classify.ray_engine",
    "replicoder.blocks": "replicoder.classify.blocks",
    "replicoder.inference": "replicoder.classify.inference",
    "replicoder.shares": "replicoder.estimate.shares",
    "replicoder.ppi": "replicoder.estimate.ppi",
    "replicoder.estimate_plot": "replicoder.estimate.figure",
    "replicoder.sampling": "replicoder.review.design",
    "replicoder.freeze": "replicoder.replicate.archive",
    "replicoder.reproduce": "replicoder.replicate.rerun",
    "replicoder.sample": "replicoder.datasets.bills",
    "replicoder.flourishing": "replicoder.datasets.flourishing",
    "replicoder.annotate.plan": "replicoder.annotate.planning",
    "replicoder.review.assign": "replicoder.review.assignment",
    "replicoder.review.agreement": "replicoder.review.adjudication",
    "replicoder.annotate.prompts": "replicoder.labels.prompts",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and hands back the module at its new path."""

    def find_spec(self, fullname: str, path: object = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there",
                      DeprecationWarning, stacklevel=2)
        module = importlib.import_module(new)
        self._specs[new] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped the old name's spec on the real module: give it back.
        module.__spec__ = self._specs[module.__name__]


def install() -> None:
    """Answer the old paths (once per interpreter)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
