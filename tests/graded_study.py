"""A small graded study built through the library (codebook with intensities, gold in the
store): mood words in the text say the label and the intensity."""

from __future__ import annotations

import random
from pathlib import Path

from replicoder import study as study_mod
from replicoder.hashing import text_sha256

CODEBOOK = """name: moods
multi_label: true
intensities: [low, medium, high]
labels:
  - {code: joy, name: Joy, description: the writer is happy}
  - {code: worry, name: Financial/material worry, description: money troubles}
  - {code: hope, name: Hope, description: looks forward}
"""
WORDS = {"joy": ("pleased", "happy", "ecstatic"), "worry": ("bills", "debt", "bankrupt"),
         "hope": ("maybe", "soon", "certainly")}
SCALE = ("low", "medium", "high")


def graded_study(root: Path, n: int = 80, seed: int = 0) -> study_mod.Study:
    """``n`` documents, each with 0-2 graded labels written into its text."""
    root.mkdir(parents=True, exist_ok=True)
    (root.parent / "moods.yaml").write_text(CODEBOOK, "utf-8")
    st = study_mod.init(root, root.parent / "moods.yaml")
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        labels = {}
        for code in rng.sample(sorted(WORDS), rng.randint(0, 2)):
            labels[code] = rng.randrange(3)
        words = [WORDS[c][k] for c, k in labels.items()] + ["today", "we", "talk"]
        rng.shuffle(words)
        text = f"doc {i}: " + " ".join(words)
        gold = frozenset(f"{c}:{SCALE[k]}" for c, k in labels.items())
        rows.append((f"d{i}", text, text_sha256(text), {}, gold))
    with st.store() as store:
        store.add_documents(rows)
    return st
