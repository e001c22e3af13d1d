"""classify's window pipeline: rows read, tokenised and padded in a background worker;
each window's forward passes queued on the device before the previous window is read
back, so the device never waits for the host between windows.

A window is ``size`` checkpoint blocks of rows, scored together in length-sorted batches.
For a classifier the worker does everything on the host (reading rows, tokenising,
padding into pinned batches), the main thread only launches forward passes and reads
back one score matrix per window; decoding is left to the caller (classify does it in its
writer thread). A generative model generates in the main thread, a window at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replicoder.models.classifier import ClassifierScorer, Launched, Prepared
from replicoder.models.trained import TrainedModel
from replicoder.predictions import Predictions

__all__ = ["Window", "scored_windows"]


@dataclass
class Window:
    """Rows of ``blocks`` (id, text); ``prepared``: their padded batches (classifier);
    ``cut``: whether each row was longer than the model reads (classifier)."""

    blocks: list[list[tuple[str, str]]]
    prepared: Prepared | None
    cut: list[bool] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [r[0] for block in self.blocks for r in block]

    @property
    def texts(self) -> list[str]:
        return [r[1] for block in self.blocks for r in block]


def read_window(rows: Iterator[tuple[str, str]], block_size: int, size: int,
                trained: TrainedModel, batch_size: int) -> Window | None:
    """The next ``size`` blocks of rows, tokenised and padded (None at the end)."""
    blocks: list[list[tuple[str, str]]] = []
    for _ in range(size):
        block = list(itertools.islice(rows, block_size))
        if not block:
            break
        blocks.append(block)
    if not blocks:
        return None
    window = Window(blocks, None)
    scorer = trained.scorer
    if isinstance(scorer, ClassifierScorer):
        encoded = scorer.encode(window.texts)
        window.prepared = scorer.prepare(encoded, batch_size)
        window.cut = list(encoded.cut)
    return window


def _launch(trained: TrainedModel, window: Window) -> Launched | None:
    scorer = trained.scorer
    if isinstance(scorer, ClassifierScorer) and window.prepared is not None:
        return scorer.launch(window.prepared)
    return None


def _collect(trained: TrainedModel, window: Window, launched: Launched | None,
             batch_size: int) -> np.ndarray | Predictions:
    scorer = trained.scorer
    if isinstance(scorer, ClassifierScorer) and launched is not None:
        return scorer.collect(launched)
    return trained.predict(window.texts, window.ids, batch_size)


def scored_windows(rows: Iterator[tuple[str, str]], block_size: int, size: int,
                   trained: TrainedModel, batch_size: int, reader: ThreadPoolExecutor
                   ) -> Iterator[tuple[Window, np.ndarray | Predictions]]:
    """Each window of ``rows`` with its scores (a classifier's (n, outputs) matrix) or
    its predictions (a generative model), in order. ``reader`` (one thread) reads and
    pads the windows ahead; window k + 1 is launched before window k is read back."""

    def ahead() -> Future[Window | None]:
        return reader.submit(read_window, rows, block_size, size, trained, batch_size)

    pending = ahead()
    current = pending.result()
    if current is None:
        return
    pending = ahead()
    launched = _launch(trained, current)
    while current is not None:
        upcoming = pending.result()
        upcoming_launched: Any = None
        if upcoming is not None:
            pending = ahead()
            upcoming_launched = _launch(trained, upcoming)  # queued behind this window
        yield current, _collect(trained, current, launched, batch_size)
        current, launched = upcoming, upcoming_launched
