"""replicoder: reproducible text coding with fine-tuned small open LLMs.

The names below are imported on first use, so that ``import replicoder`` stays fast and
loads no torch. Each step's module or subpackage has its own public names in ``__all__``:
``replicoder.annotate.annotate``, ``replicoder.train.train``, ``replicoder.classify.classify``,
``replicoder.estimate.estimate``, ``replicoder.replicate.archive`` (see the README)::

    import replicoder
    from replicoder.train import train

    study = replicoder.init("my-study", "cap")
    replicoder.import_file(study, "bills.csv", text="text", id="id", labels="major_topic")
    train(study, "bills", replicoder.TrainConfig(epochs=3))
    replicoder.evaluate_models(study, ["bills"])
"""

from __future__ import annotations

import importlib
from typing import Any

from replicoder import moved
from replicoder.errors import ReplicoderError

__version__ = "0.1.0"

_LAZY = {
    "Study": "replicoder.study",
    "init": "replicoder.study",
    "open_study": "replicoder.study",
    "Codebook": "replicoder.labels.codebook",
    "import_file": "replicoder.importer",
    "sample_study": "replicoder.datasets.bills",
    "TrainConfig": "replicoder.train",
    "load_trained": "replicoder.models",
    "evaluate_models": "replicoder.evaluate.compare",
    "agreement_table": "replicoder.annotate",
    "Run": "replicoder.run",
}

moved.install()

__all__ = ["ReplicoderError", "__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'replicoder' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
