"""Issue 25, item 19 with the local engine: null ids (JSONL null, a missing key) are empty
ids, warned about with the steps that will refuse them; the warning matches what estimate
then says."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from replicoder import importer
from replicoder import study as study_mod
from replicoder.classify.local import classify
from replicoder.errors import ReplicoderError
from replicoder.estimate.corpus import estimate
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)
SAMPLE = Path(str(resources.files("replicoder") / "data" / "cap_bills_sample.csv"))


def test_null_ids_are_empty_ids(tmp_path: Path) -> None:
    tiny = str(build_tiny(tmp_path / "tiny"))
    df = pd.read_csv(SAMPLE)
    st = study_mod.init(tmp_path / "study")
    df[df.major_topic.isin([3, 12])].groupby("major_topic").head(8).to_csv(
        tmp_path / "train.csv", index=False)
    importer.import_file(st, tmp_path / "train.csv", text="text", id="id", labels="major_topic")
    train(st, "m", TrainConfig(base=tiny, epochs=1, batch_size=8))
    corpus = tmp_path / "c.jsonl"
    rows = [{"doc": "a", "text": "tax bill"}, {"doc": None, "text": "farm bill"},
            {"text": "health bill"}, {"doc": "a", "text": "water bill"}]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    result = classify(st, "m", tmp_path / "out.parquet", input=corpus, id_column="doc")
    assert result.warnings[0].startswith("2 rows have an empty id; `replicoder estimate` "
                                         "and `review sample --from` will refuse")
    assert result.warnings[1].startswith("1 rows repeat an id seen before")
    assert "None" not in set(pd.read_parquet(tmp_path / "out.parquet").id)
    with pytest.raises(ReplicoderError, match="empty or null in 2 rows"):
        estimate(st, tmp_path / "out.parquet", methods=["classify-and-count"])
