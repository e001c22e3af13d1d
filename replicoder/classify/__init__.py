"""Classify a corpus with a trained model: streaming, checkpointed and resumable.

- local: the default engine, one process (``classify``);
- ray_engine: the same answers across a Ray cluster (the only module that imports ray);
- blocks: deterministic input blocks for distributed classification;
- inference: the seam both engines share (load a trained model once, score a list of texts).
"""

from replicoder.classify.inference import load_model, score_texts
from replicoder.classify.local import JOB, ClassifyResult, ClassifyStopped, classify

__all__ = ["JOB", "ClassifyResult", "ClassifyStopped", "classify", "load_model", "score_texts"]
