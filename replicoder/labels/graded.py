"""Graded labels: a label with an intensity from the codebook's ordered scale.

A graded label is stored wherever a plain code is stored (proposals, decisions, gold,
predictions) as the one string ``code:intensity`` ("happiness:high"), so label sets stay
sets of strings. A document holds at most one intensity per label. Plain codebooks are
unaffected: their values are the codes.
"""

from __future__ import annotations

from collections.abc import Iterable

from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import GRADE_SEP, Codebook

__all__ = ["GRADE_SEP", "check", "join", "presence", "resolve", "split", "with_level"]


def join(code: str, level: str) -> str:
    """``("happiness", "high")`` -> ``"happiness:high"``."""
    return f"{code}{GRADE_SEP}{level}"


def split(value: str) -> tuple[str, str | None]:
    """``"happiness:high"`` -> ``("happiness", "high")``; a plain code -> ``(code, None)``."""
    code, sep, level = value.rpartition(GRADE_SEP)
    return (code, level) if sep else (value, None)


def presence(values: Iterable[str]) -> frozenset[str]:
    """The codes present, intensities dropped."""
    return frozenset(split(v)[0] for v in values)


def with_level(values: Iterable[str], code: str, level: str) -> frozenset[str]:
    """The set with ``code`` at ``level`` (added, or its previous intensity replaced)."""
    return frozenset({v for v in values if split(v)[0] != code} | {join(code, level)})


def resolve(book: Codebook, code: str, level: str | None, where: str) -> str:
    """One stored value for (code, level) in ``book``; the level matched ignoring case.

    A graded codebook needs a level; a plain one refuses it. ``where`` names the file and
    row (or the answer) for the error message.
    """
    if not book.graded:
        if level is not None:
            raise ReplicoderError(
                f"{where}: label {code!r} comes with intensity {level!r}, but codebook "
                f"{book.name!r} is not graded; add 'intensities:' to the codebook or drop it"
            )
        return code
    scale = ", ".join(book.intensities)
    if level is None or not level.strip():
        raise ReplicoderError(
            f"{where}: label {code!r} has no intensity; codebook {book.name!r} is graded, "
            f"give one of: {scale} (as {join(code, book.intensities[-1])!r})"
        )
    folded = {x.casefold(): x for x in book.intensities}
    found = folded.get(level.strip().casefold())
    if found is None:
        raise ReplicoderError(
            f"{where}: unknown intensity {level!r} for label {code!r}; the scale is: {scale}"
        )
    return join(code, found)


def check(book: Codebook, values: Iterable[str], where: str) -> frozenset[str]:
    """Validate a label set against ``book``: known values, one intensity per label."""
    out = frozenset(values)
    allowed = set(book.values)
    seen: dict[str, str] = {}
    for value in sorted(out):
        if value not in allowed:
            raise ReplicoderError(
                f"{where}: {value!r} is not a value of codebook {book.name!r}"
                + (f" (graded: code{GRADE_SEP}intensity, intensities "
                   f"{', '.join(book.intensities)})" if book.graded else "")
            )
        code = split(value)[0] if book.graded else value
        if code in seen:
            raise ReplicoderError(
                f"{where}: label {code!r} appears with two intensities ({seen[code]!r} and "
                f"{value!r}); a document holds at most one intensity per label"
            )
        seen[code] = value
    return out
