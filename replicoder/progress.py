"""Progress reporting: the library calls back, a front end draws (the CLI: rich bars).

A long job asks its ``progress`` callback for a task, ``task = progress("classifying",
total, done)``, then calls ``task(n)`` as it finishes n more items, with optional named
figures (``task(1, loss=0.41)``, ``task(0, val_accuracy=0.83)``). ``progress`` None: silent.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Progress", "Task", "start"]


class Task(Protocol):
    def __call__(self, n: int = 1, **figures: float) -> None: ...


class Progress(Protocol):
    def __call__(self, description: str, total: int | None, done: int = 0) -> Task: ...


def _silent(n: int = 1, **figures: float) -> None:
    return None


def start(progress: Progress | None, description: str, total: int | None,
          done: int = 0) -> Task:
    """A task of ``progress``, or one that reports nothing."""
    return _silent if progress is None else progress(description, total, done)
