"""Loading base models: the embedded SmolLM2, any Hugging Face id, local folder or GGUF file."""

from replicoder.models.loading import (
    EMBEDDED,
    BaseModel,
    embedded_gguf,
    load_causal_lm,
    load_sequence_classifier,
    load_tokenizer,
    pick_device,
    resolve,
)

__all__ = [
    "EMBEDDED",
    "BaseModel",
    "embedded_gguf",
    "load_causal_lm",
    "load_sequence_classifier",
    "load_tokenizer",
    "pick_device",
    "resolve",
]
