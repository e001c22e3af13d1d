"""Progress bars that show documents per second, or nothing when disabled."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

Advance = Callable[[int], None]


def standard_progress(*middle: Any) -> Any:
    """A rich Progress: description, bar, done/total, ``middle`` columns, elapsed, remaining."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    *middle, TimeElapsedColumn(), TimeRemainingColumn())


class RateBars:
    """One rich display holding a bar per task; ``add`` returns that task's advance(n).

    The rate counts only documents done in this process, so a resumed job shows its
    real speed rather than one inflated by the documents done before.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.progress: Any = None
        if not enabled:
            return
        from rich.progress import TextColumn

        self.progress = standard_progress(TextColumn("{task.fields[rate]} docs/s"))
        self.progress.start()

    def add(self, description: str, total: int | None, done: int = 0) -> Advance:
        """A new bar; ``total`` None for a stream of unknown length."""
        if self.progress is None:
            return lambda _n: None
        progress = self.progress
        task = progress.add_task(description, total=total, completed=done, rate="-")
        started = time.monotonic()
        count = 0

        def advance(n: int) -> None:
            nonlocal count
            count += n
            rate = count / max(time.monotonic() - started, 1e-9)
            progress.update(task, advance=n, rate=f"{rate:.2f}")

        return advance

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def __enter__(self) -> RateBars:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
