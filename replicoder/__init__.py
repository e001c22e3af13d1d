"""replicoder: reproducible text coding with fine-tuned small open LLMs."""

from replicoder.errors import ReplicoderError

__version__ = "0.1.0"
__all__ = ["ReplicoderError", "__version__"]
