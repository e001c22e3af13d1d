"""Where the benchmarks' data lives: the full bill sample, outside the repository.

The tests need none of it (they read tests/data/); the benchmarks measure on all 4,449 titles.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "REPLICODER_BENCH_DATA"
BESIDE = Path(__file__).resolve().parents[2] / "shared" / "data" / "us_congress_bills.csv.gz"

HOW = """\
The benchmarks read the USCongress sample: 4,449 titles of US congressional bills, each
hand-coded with one Comparative Agendas Project major topic by the
Congressional Bills Project (E. Scott Adler and John Wilkerson, www.congressionalbills.org),
as shipped in the data set `USCongress` of the R package RTextTools (GPL-3). In R:

    data(USCongress, package = "RTextTools")
    names(USCongress) <- c("id", "congress", "bill", "chamber", "major_topic", "text")
    write.csv(USCongress, gzfile("us_congress_bills.csv.gz"), row.names = FALSE,
              fileEncoding = "UTF-8")

Put it at {beside}
(../shared/data/ next to the repository) or set {env} to its path."""


def bills_path() -> Path:
    """The full bill file, or exit with a message saying where to get it."""
    named = os.environ.get(ENV)
    path = Path(named).expanduser() if named else BESIDE
    if not path.is_file():
        where = f"{ENV}={named}" if named else str(path)
        raise SystemExit(f"benchmark data not found: {where}\n\n"
                         + HOW.format(beside=BESIDE, env=ENV))
    return path


FLOURISHING_ENV = "REPLICODER_FLOURISHING"
FLOURISHING = Path(__file__).resolve().parents[2] / "shared" / "data" / "flourishing"


def flourishing_dir(*stems: str) -> Path:
    """The paper's flourishing folder holding STEM.csv(.gz) for each stem, or exit saying
    where to get it."""
    named = os.environ.get(FLOURISHING_ENV)
    path = Path(named).expanduser() if named else FLOURISHING
    missing = [s for s in stems
               if not any((path / f"{s}{ext}").is_file() for ext in (".csv.gz", ".csv"))]
    if missing:
        raise SystemExit(
            f"benchmark data not found: {path} needs {', '.join(missing)} (.csv or .csv.gz)"
            "\n\nGet the folder flourishing/ of github.com/siacus/rethinking-scale (CC BY 4.0) "
            f"and put it at {FLOURISHING} or set {FLOURISHING_ENV} to it.")
    return path
