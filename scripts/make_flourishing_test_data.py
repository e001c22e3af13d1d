"""Cut the slice of the human-flourishing study that the tests read (tests/data/flourishing/).

Run once from the repository root, with the full data beside the repository:
    .venv/bin/python scripts/make_flourishing_test_data.py

The slice holds 300 of the 2,434 tweets that have LLM proposals, drawn with
random.Random(13) from their sorted ids, and every row of each file about them, in the
source's row order and with the source's columns (values kept as text, unchanged).
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

SOURCE = Path("../shared/data/flourishing")
TARGET = Path("tests/data/flourishing")
TWEETS = 300
SEED = 13
FILES = ("all-llms-codings", "answers", "classified-chatgpt4", "classified-L2-13B-FT",
         "classified-L32-1B-FT")


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(SOURCE / f"{name}.csv.gz", dtype=str, keep_default_na=False)


def write(df: pd.DataFrame, name: str) -> None:
    df.to_csv(TARGET / f"{name}.csv.gz", index=False,
              compression={"method": "gzip", "mtime": 0})
    print(f"wrote {len(df)} rows to {TARGET / name}.csv.gz")


def main() -> None:
    proposals = read("all-llms-codings")
    ids = sorted(set(proposals["id"]))
    chosen = set(random.Random(SEED).sample(ids, TWEETS))
    TARGET.mkdir(parents=True, exist_ok=True)
    sample = read("sample")
    write(sample[sample["message_id"].isin(chosen)], "sample")
    for name in FILES:
        df = read(name)
        write(df[df["id"].isin(chosen)], name)


if __name__ == "__main__":
    main()
