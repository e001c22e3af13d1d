"""classify --engine ray with long documents: a chunked model reads them whole with the
local engine's answers; a truncating one marks, counts and warns about the cut ones. Starts
a local Ray with 2 CPUs: run this file alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from long_docs import long_models

from replicoder import study as study_mod
from replicoder.classify import classify

ray = pytest.importorskip("ray", reason="install the extra: pip install 'replicoder[ray]'")
from replicoder.classify.ray_engine import classify_ray  # noqa: E402

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[study_mod.Study, Path]:
    st, corpus, _ = long_models(tmp_path_factory.mktemp("raylong"))
    return st, corpus


def test_ray_reads_long_documents_like_the_local_engine(
        tmp_path: Path, local_ray: None, trained: tuple[study_mod.Study, Path]) -> None:
    st, corpus = trained
    local = classify(st, "whole", tmp_path / "local.parquet", input=corpus, id_column="id",
                     checkpoint_every=15)
    got = classify_ray(st, "whole", corpus, tmp_path / "ray", id_column="id", workers=2,
                       block_rows=15)
    assert got.documents == 40 and got.manifest["cut"]["documents"] == 0
    assert got.cut_warning is None and local.cut == 0
    a = pd.read_parquet(tmp_path / "local.parquet")
    b = pd.read_parquet(tmp_path / "ray").sort_values(["input_file", "input_row"])
    assert b.labels.tolist() == a.labels.tolist() and not b.cut.any()
    cols = [c for c in a.columns if c.startswith("score_")]
    np.testing.assert_allclose(b[cols].to_numpy(), a[cols].to_numpy(), atol=1e-5)


def test_ray_counts_and_warns_about_cut_documents(
        tmp_path: Path, local_ray: None, trained: tuple[study_mod.Study, Path]) -> None:
    st, corpus = trained
    got = classify_ray(st, "cut", corpus, tmp_path / "ray", id_column="id", workers=1,
                       block_rows=20)
    assert got.manifest["cut"] == {"documents": 39, "share": 39 / 40, "max_length": 24,
                                   "long": "truncate"}
    assert got.cut_warning is not None and "39 of 40 documents" in got.cut_warning
    out = pd.read_parquet(tmp_path / "ray")
    assert int(out.cut.sum()) == 39
