"""The one exception type users see, and the short texts its messages are built from.

A message says what is wrong and what to do; a long list of offending items in it becomes a
count and the first few (an error message never grows with the input).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ITEM_CHARS", "LINE_CHARS", "ReplicoderError", "clip", "lines", "listed", "summarise"]


class ReplicoderError(Exception):
    """An error caused by input or state the user can fix.

    The CLI prints the message (no traceback) and exits with status 2.
    """


LINE_CHARS = 200  # an item on a line of its own is cut to this many
ITEM_CHARS = 80  # one listed item is cut to this many characters


def clip(text: str, limit: int = ITEM_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was when cut."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


def summarise(items: Sequence[str], limit: int = 10) -> str:
    """``"3: a, b, c"``, or ``"12,345 in all, first 10: a, b, ..."`` when there are more
    than ``limit``; each item is cut to ITEM_CHARS characters."""
    shown = ", ".join(clip(str(i)) for i in items[:limit])
    if len(items) <= limit:
        return f"{len(items):,}: {shown}"
    return f"{len(items):,} in all, first {limit}: {shown}"


def listed(items: Sequence[str], limit: int = 10) -> str:
    """The items joined by commas when there are at most ``limit``; else :func:`summarise`."""
    if len(items) <= limit:
        return ", ".join(clip(str(i)) for i in items)
    return summarise(items, limit)


def lines(items: Sequence[str], limit: int = 10) -> str:
    """``items`` one a line (each cut by :func:`clip`), at most ``limit`` of them, then
    "... and N more (T in all)": for lists whose items are long, such as archive members."""
    shown = [clip(str(item), LINE_CHARS) for item in items[:max(limit, 0)]]
    rest = len(items) - len(shown)
    if rest > 0:
        shown.append(f"... and {rest:,} more ({len(items):,} in all)")
    return "\n".join(shown)
