"""Before training: measure the training documents' token lengths, resolve
``--max-length auto`` and report how many documents are longer than the length chosen."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from replicoder.models.base import BaseModel, load_tokenizer
from replicoder.models.length import LengthReport, choose_length, context_of, measure
from replicoder.train.config import TrainConfig

__all__ = ["resolve_length"]


def resolve_length(base: BaseModel, config: TrainConfig, texts: Sequence[str]
                   ) -> tuple[TrainConfig, LengthReport]:
    """(``config`` with a number for max_length, what was measured and chosen)."""
    tok = load_tokenizer(base)
    lengths = measure(tok, texts, config.template)
    context = context_of(base.path)
    auto = config.max_length is None
    chosen = choose_length(lengths, context, config.length_cap) if auto else config.length
    report = LengthReport.of(lengths, chosen, auto, config.length_cap, context, config.long)
    return dataclasses.replace(config, max_length=chosen), report
