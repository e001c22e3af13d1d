"""`replicoder serve`: a local model behind an OpenAI-compatible HTTP API."""

from replicoder.serve.app import create_app, serve
from replicoder.serve.engine import Engine, load_engine

__all__ = ["Engine", "create_app", "load_engine", "serve"]
