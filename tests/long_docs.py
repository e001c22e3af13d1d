"""Long documents for tests: bill titles of one topic strung together (their label kept),
and synthetic documents whose only cue to their label sits at their very end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from paths import BILLS
from test_splits import make_study

from replicoder.study import Study

TOPICS = [3, 12, 16, 20]
# cue words, one per topic, that no filler word shares
CUES = {3: "zebra", 12: "violin", 16: "tulip", 20: "comet"}
FILLER = ("the of and to a in for on with by from at as is that this it be are was report "
          "act bill state federal program year amend section provide public law").split()


def long_bills(per_topic: int = 25, titles: int = 12, seed: int = 0) -> pd.DataFrame:
    """Documents of ``titles`` bill titles each, all of one topic: id, text, major_topic."""
    df = pd.read_csv(BILLS)
    rng = np.random.default_rng(seed)
    rows = []
    for topic in TOPICS:
        pool = df[df.major_topic == topic].text.tolist()
        for i in range(per_topic):
            picks = rng.choice(len(pool), size=titles, replace=True)
            rows.append({"id": f"t{topic}-{i}", "text": " ".join(pool[j] for j in picks),
                         "major_topic": topic})
    return pd.DataFrame(rows)


def cue_at_end(per_topic: int = 25, words: int = 1500, seed: int = 0,
               at_start: bool = False) -> pd.DataFrame:
    """Documents of ``words`` filler words (about 2,000 tokens at 1,500 words) whose only
    cue to their label is its cue word, the last word (the first with ``at_start``, a
    control): id, text, major_topic."""
    rng = np.random.default_rng(seed)
    rows = []
    for topic in TOPICS:
        for i in range(per_topic):
            body = " ".join(rng.choice(FILLER, size=words))
            text = f"{CUES[topic]} {body}" if at_start else f"{body} {CUES[topic]}"
            rows.append({"id": f"c{topic}-{i}", "text": text,
                         "major_topic": topic})
    return pd.DataFrame(rows)


def long_models(root: Path) -> tuple[Study, Path, str]:
    """A study of long documents with a truncating model (``cut``, 24 tokens) and a
    chunking one (``whole``, windows of 24 tokens), both on the tiny random model; a corpus
    file of long documents, its first one short. (study, corpus, tiny model path)."""
    from replicoder.models.tiny import build_tiny
    from replicoder.train import TrainConfig, train

    tiny = str(build_tiny(root / "tiny"))
    st = make_study(root / "study", long_bills(per_topic=8, titles=5))
    for name, long in (("cut", "truncate"), ("whole", "chunk")):
        train(st, name, TrainConfig(base=tiny, epochs=1, batch_size=8, max_length=24,
                                    long=long, precision="fp32"))
    corpus = root / "corpus.csv"
    docs = long_bills(per_topic=10, titles=4, seed=3)
    docs.loc[0, "text"] = "short one"  # one document that fits
    docs[["id", "text"]].to_csv(corpus, index=False)
    return st, corpus, tiny
