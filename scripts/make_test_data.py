"""Cut the slice of the Congressional Bills sample that the tests read (tests/data/).

Run once from the repository root, with the full file beside the repository:
    .venv/bin/python scripts/make_test_data.py

The slice keeps the source's row order and columns and holds: the first 300 rows, the first
50 rows of topics 3, 12, 16 and 20 (what the split and training tests take), all 30 rows
coded 99, and a stratified draw (seed 0) of the other rows up to 1,500.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

SOURCE = Path("../shared/data/us_congress_bills.csv.gz")
TARGET = Path("tests/data/us_congress_bills_slice.csv.gz")
ROWS = 1500


def main() -> None:
    df = pd.read_csv(SOURCE)
    keep = set(df.index[:300])
    keep |= set(df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(50).index)
    keep |= set(df.index[df.major_topic == 99])
    rest = df[~df.index.isin(keep) & (df.major_topic != 99)]
    drawn, _ = train_test_split(rest, train_size=ROWS - len(keep), stratify=rest.major_topic,
                                random_state=0)
    keep |= set(drawn.index)
    out = df.loc[sorted(keep)]
    out.to_csv(TARGET, index=False, compression={"method": "gzip", "mtime": 0})
    print(f"wrote {len(out)} rows to {TARGET}")


if __name__ == "__main__":
    main()
