"""A tiny study for the estimate tests: documents, a classified output with known errors,
and a coder's decisions (shared by tests in estimate/ and review/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from replicoder import importer
from replicoder import study as study_mod
from replicoder.review import session

THREE_TOPICS = """name: Topics
multi_label: false
labels:
  - code: econ
    name: Economy
  - code: health
    name: Health
  - code: env
    name: Environment
"""
CODEBOOK = THREE_TOPICS + """  - code: defence
    name: Defence
"""
CODES = ["econ", "health", "env", "defence"]


def make(tmp_path: Path, n: int = 240) -> tuple[study_mod.Study, Path, dict[str, str]]:
    """A study of ``n`` documents (years 2019-2021) and a classified output whose model
    calls 40% of health documents economy; defence is predicted for 2 documents, true for
    none."""
    rng = np.random.default_rng(7)
    (tmp_path / "codebook.yaml").write_text(CODEBOOK)
    st = study_mod.init(tmp_path / "study", tmp_path / "codebook.yaml")
    ids = [f"b{i:04d}" for i in range(n)]
    truth = rng.choice(["econ", "health", "env"], size=n, p=[0.3, 0.4, 0.3])
    pred = np.where((truth == "health") & (rng.random(n) < 0.4), "econ", truth).astype(object)
    pred[[5, 6]] = "defence"
    years = [str(2019 + i % 3) for i in range(n)]
    pd.DataFrame({"id": ids, "text": [f"bill number {i}" for i in range(n)], "year": years,
                  "source": ["rare" if i == 0 else "common" for i in range(n)]}
                 ).to_csv(tmp_path / "docs.csv", index=False)
    importer.import_file(st, tmp_path / "docs.csv", text="text", id="id", meta=["year", "source"])
    scores = np.stack([(pred == c).astype(np.float32) * 0.9 + 0.025 for c in CODES], axis=1)
    out = pd.DataFrame({"id": ids, "labels": pred, "top_score": scores.max(1)})
    for j, c in enumerate(CODES):
        out[f"score_{c}"] = scores[:, j]
    out["model"] = "m"
    path = tmp_path / "coded.parquet"
    out.to_parquet(path, index=False)
    return st, path, dict(zip(ids, truth, strict=True))


def review(st: study_mod.Study, doc_ids: list[str], truth: dict[str, str]) -> None:
    """What a coder does in the app: add the right label, save."""
    with st.store() as store:
        for doc_id in doc_ids:
            session.decide(store, st.codebook, "anna", doc_id, [], [truth[doc_id]], False, 2.0)
