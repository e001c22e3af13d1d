"""Draw the demo sample shipped in replicoder/data: 1,000 bill titles, stratified, seed 0.

Run once from the repository root: .venv/bin/python scripts/make_demo_data.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

SOURCE = Path("../shared/data/us_congress_bills.csv.gz")
TARGET = Path("replicoder/data/cap_bills_sample.csv")


def main() -> None:
    df = pd.read_csv(SOURCE)
    df = df[df["major_topic"] != 99]
    sample, _ = train_test_split(
        df, train_size=1000, stratify=df["major_topic"], random_state=0
    )
    sample = sample.sort_values("id")[["id", "congress", "chamber", "major_topic", "text"]]
    sample.to_csv(TARGET, index=False)
    print(f"wrote {len(sample)} rows to {TARGET}")


if __name__ == "__main__":
    main()
