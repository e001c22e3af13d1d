"""Rich progress bars for the library's progress callbacks (replicoder.progress)."""

from __future__ import annotations

import time
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from replicoder.progress import Task


class Bars:
    """One live display with a bar per task: items done, items/s (counting only this
    process's items, so a resumed job shows its real speed) and the latest figures."""

    def __init__(self, unit: str = "docs") -> None:
        self.unit = unit
        self.display = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                TimeElapsedColumn(), TimeRemainingColumn())

    def __call__(self, description: str, total: int | None, done: int = 0) -> Task:
        display = self.display
        task = display.add_task(description, total=total, completed=done, info="")
        started = time.monotonic()
        count = 0
        figures: dict[str, float] = {}

        def advance(n: int = 1, **new: float) -> None:
            nonlocal count
            count += n
            figures.update(new)
            rate = count / max(time.monotonic() - started, 1e-9)
            shown = [f"{k} {v:.4f}" for k, v in figures.items()]
            info = "  ".join([f"{rate:.2f} {self.unit}/s", *shown])
            display.update(task, advance=n, info=info)

        return advance

    def __enter__(self) -> Bars:
        self.display.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.display.stop()

