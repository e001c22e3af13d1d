"""Before training: measure the training documents' token lengths, resolve
``--max-length auto`` and ``--template auto``, and report how many documents are longer than
the length chosen."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from replicoder.models.base import BaseModel, load_tokenizer
from replicoder.models.classifier import TEXT
from replicoder.models.length import FLOOR, LengthReport, choose_length, context_of, measure
from replicoder.train.config import AUTO, CUE, TrainConfig
from replicoder.train.sizing import SMALL

__all__ = ["choose_template", "resolve_length"]


def choose_template(n_train: int, median: int) -> tuple[str, str]:
    """(template, note) for ``--template auto``: the cue, except for ``n_train`` of SMALL or
    more documents whose median token length (bare text) is under FLOOR.

    Where the cue helped: 109 EP questions (median 213 tokens), LLM alone, 0.262 -> 0.523 on
    one fold; the demo's 700 bill titles, 0.700 -> 0.760. Where it did not: 3,235 bill
    titles (0.826 bare, 0.825 with a cue), and there its 3 tokens cost classify 15% of its
    speed (long_titles_cue.json); on long documents they cost under 5%.
    """
    if n_train >= SMALL and median < FLOOR:
        return TEXT, (f"template auto: the bare text ({n_train} training documents, median "
                      f"{median} tokens: on {SMALL:,} or more short documents the cue was "
                      "level and slows classify; give --template to choose)")
    why = (f"fewer than {SMALL:,} training documents" if n_train < SMALL
           else f"median {median} tokens")
    return CUE, (f"template auto: {CUE!r} ({why}: the head reads the cue's last token; "
                 "give --template to choose)")


def resolve_length(base: BaseModel, config: TrainConfig, texts: Sequence[str]
                   ) -> tuple[TrainConfig, LengthReport, list[str]]:
    """(``config`` with a number for max_length and a template, what was measured and
    chosen, notes)."""
    tok = load_tokenizer(base)
    notes: list[str] = []
    if config.template == AUTO:
        bare = measure(tok, texts, TEXT)
        template, note = choose_template(len(texts),
                                         int(np.median(bare)) if bare else 0)
        config = dataclasses.replace(config, template=template)
        notes.append(note)
    lengths = measure(tok, texts, config.template)
    context = context_of(base.path)
    auto = config.max_length is None
    chosen = choose_length(lengths, context, config.length_cap) if auto else config.length
    report = LengthReport.of(lengths, chosen, auto, config.length_cap, context, config.long)
    return dataclasses.replace(config, max_length=chosen), report, notes
