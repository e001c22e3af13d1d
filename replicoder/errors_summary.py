"""Short error messages from long lists: a count and the first few items, each capped."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ITEM_CHARS", "shorten", "summarise"]

ITEM_CHARS = 200  # an item longer than this is cut (a 3 MB cell must not become a message)


def summarise(items: Sequence[str], limit: int = 10) -> str:
    """``items`` as one line each (each at most ITEM_CHARS), at most ``limit`` of them, then
    '... and N more (T in all)'. The message stays short whatever ``items`` holds."""
    shown = [shorten(str(item)) for item in items[:max(limit, 0)]]
    rest = len(items) - len(shown)
    if rest > 0:
        shown.append(f"... and {rest:,} more ({len(items):,} in all)")
    return "\n".join(shown)


def shorten(item: str, limit: int = ITEM_CHARS) -> str:
    """``item`` cut to ``limit`` characters, saying how long it was."""
    if len(item) <= limit:
        return item
    return f"{item[:limit]}... ({len(item):,} characters)"
