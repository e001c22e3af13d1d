"""Evaluate: models side by side on the same documents, with the paper's metrics and figures.

- compare: the train and test rows of every model, baseline, zero-shot, crowd or outside file
  (``evaluate_models``);
- external: predictions made outside replicoder, read and matched to the codebook;
- crowd: the AI crowd's proposals aggregated (union for review, majority as a model);
- curve: the learning curve, trained on growing subsets, tested on the same documents
  (``learning_curve``);
- report: report.html and its PNG figures.
"""

from replicoder.evaluate.compare import (
    BASELINES,
    CROWD,
    SETTINGS,
    ZERO_SHOT,
    EvalDocs,
    ExternalSpec,
    answered,
    baseline_source,
    crowd_sources,
    evaluate_models,
    external_source,
    load_parts,
    model_source,
    predictions_parquet,
    score,
    write_run,
)
from replicoder.evaluate.curve import learning_curve

__all__ = ["BASELINES", "CROWD", "SETTINGS", "ZERO_SHOT", "EvalDocs", "ExternalSpec",
           "answered", "baseline_source", "crowd_sources", "evaluate_models", "external_source",
           "learning_curve", "load_parts", "model_source", "predictions_parquet", "score",
           "write_run"]
