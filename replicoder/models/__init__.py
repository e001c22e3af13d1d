"""Models, base and trained: where they run, where they live, how they score and generate.

- runtime: device and precision choice (the one place);
- base: resolve a base model name (embedded GGUF, hub id, folder) and load it;
- folder: the models/NAME layout of a trained model (the one place that knows it);
- classifier, generative: the two scorers; generation: one batched generate function;
- trained: a trained model loaded back (``load_trained``), the zero-shot base model.
"""

from replicoder.models.base import (
    EMBEDDED,
    BaseModel,
    embedded_gguf,
    load_causal_lm,
    load_sequence_classifier,
    load_tokenizer,
    resolve,
)
from replicoder.models.folder import ModelFolder, find_adapter, trained_names
from replicoder.models.generation import Generated, generate
from replicoder.models.runtime import choose, pick_device
from replicoder.models.trained import TrainedModel, load_trained, zero_shot

__all__ = [
    "EMBEDDED",
    "BaseModel",
    "Generated",
    "ModelFolder",
    "TrainedModel",
    "choose",
    "embedded_gguf",
    "find_adapter",
    "generate",
    "load_causal_lm",
    "load_sequence_classifier",
    "load_tokenizer",
    "load_trained",
    "pick_device",
    "resolve",
    "trained_names",
    "zero_shot",
]
