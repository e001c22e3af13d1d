"""classify --engine ray: same answers as the local engine, every input format, resume
after a real kill, clear errors. One local Ray with 2 CPUs is shared by the module and
stopped at its end; the model is a tiny random one of the embedded architecture, trained
a little so that its scores are not flat."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from replicoder import importer
from replicoder import study as study_mod
from replicoder.classify.blocks import list_inputs, plan_file, read_block
from replicoder.classify.local import classify
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.io.readers import open_table
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train

ray = pytest.importorskip("ray", reason="install the extra: pip install 'replicoder[ray]'")
from replicoder.classify.ray_engine import classify_ray  # noqa: E402

pytestmark = pytest.mark.timeout(300)
SAMPLE = Path(str(resources.files("replicoder") / "data" / "cap_bills_sample.csv"))
LOCAL_COLUMNS = ["id", "labels", "top_score"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[study_mod.Study, Path]:
    root = tmp_path_factory.mktemp("ray")
    tiny = str(build_tiny(root / "tiny"))
    df = pd.read_csv(SAMPLE)
    st = study_mod.init(root / "study")
    rows = df[df.major_topic.isin([3, 12, 20, 21])].groupby("major_topic").head(15)
    rows.to_csv(root / "train.csv", index=False)
    importer.import_file(st, root / "train.csv", text="text", id="id", labels="major_topic")
    # fp32: scores do not depend on how documents are batched (bf16 moves them ~1e-3), so
    # the engines' different batches must give identical labels and equal scores
    train(st, "m", TrainConfig(base=tiny, epochs=1, batch_size=8, precision="fp32"))
    corpus = root / "corpus.csv"
    df.assign(doc="d" + df.id.astype(str))[["doc", "text"]].head(300).to_csv(corpus,
                                                                             index=False)
    return st, corpus


def test_same_answers_as_the_local_engine(tmp_path: Path, local_ray: None,
                                          trained: tuple[study_mod.Study, Path]) -> None:
    st, corpus = trained
    local = classify(st, "m", tmp_path / "local.parquet", input=corpus, id_column="doc",
                     checkpoint_every=70)
    got = classify_ray(st, "m", corpus, tmp_path / "ray", id_column="doc", workers=2,
                       block_rows=70)
    assert got.documents == 300 and got.blocks == 5 and got.resumed_blocks == 0
    a = pd.read_parquet(tmp_path / "local.parquet")
    b = pd.read_parquet(tmp_path / "ray").sort_values(["input_file", "input_row"])
    assert list(b.columns) == [*a.columns, "input_file", "input_row"]
    assert b.id.tolist() == a.id.tolist()  # every id once, input order by (file, row)
    assert b.input_row.tolist() == list(range(1, 301))
    assert set(b.input_file) == {str(corpus.resolve())}
    assert b.labels.tolist() == a.labels.tolist()
    scores = [c for c in a.columns if c.startswith("score_")]
    assert a[scores].to_numpy().std() > 1e-3  # the scores are not flat
    np.testing.assert_allclose(b[scores].to_numpy(), a[scores].to_numpy(), atol=1e-5)
    assert set(b.adapter_sha256) == {local.manifest["adapter_sha256"]}
    m = json.loads((tmp_path / "ray" / "_manifest.json").read_text())
    assert m["engine"] == "ray" and m["documents"] == 300
    assert m["inputs"][0]["sha256"] == local.manifest["input"]["sha256"]
    assert m["cluster"]["resources"]["CPU"] == 2 and m["workers"] == 2
    assert m["threads_per_worker"] == 1 and m["versions"]["ray"] == ray.__version__
    assert sum(w["documents"] for w in m["per_worker"].values()) == 300
    assert all(w["docs_per_s"] > 0 for w in m["per_worker"].values())
    again = classify_ray(st, "m", corpus, tmp_path / "ray", id_column="doc", block_rows=70)
    assert again.resumed_blocks == 5 and again.manifest["documents_this_call"] == 0


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_embedded_model_same_answers_on_ray(tmp_path: Path, local_ray: None) -> None:
    """The real embedded model (SmolLM2-135M), fine-tuned briefly: one Ray worker gives the
    local engine's labels and scores."""
    df = pd.read_csv(SAMPLE)
    st = study_mod.init(tmp_path / "study")
    rows = df[df.major_topic.isin([3, 12, 20, 21])].groupby("major_topic").head(12)
    rows.to_csv(tmp_path / "train.csv", index=False)
    importer.import_file(st, tmp_path / "train.csv", text="text", id="id", labels="major_topic")
    train(st, "smol", TrainConfig(epochs=1, batch_size=8, max_length=32, precision="fp32"))
    corpus = tmp_path / "corpus.csv"
    df[["id", "text"]].tail(40).to_csv(corpus, index=False)
    local = classify(st, "smol", tmp_path / "local.parquet", input=corpus, id_column="id",
                     checkpoint_every=20)
    classify_ray(st, "smol", corpus, tmp_path / "ray", id_column="id", workers=1,
                 block_rows=20)
    a = pd.read_parquet(tmp_path / "local.parquet")
    b = pd.read_parquet(tmp_path / "ray").sort_values(["input_file", "input_row"])
    assert b.id.tolist() == a.id.tolist() and b.labels.tolist() == a.labels.tolist()
    scores = [c for c in a.columns if c.startswith("score_")]
    np.testing.assert_allclose(b[scores].to_numpy(), a[scores].to_numpy(), atol=1e-4)
    assert set(b.adapter_sha256) == {local.manifest["adapter_sha256"]}


def test_formats_folders_and_globs(tmp_path: Path, local_ray: None,
                                   trained: tuple[study_mod.Study, Path]) -> None:
    st, corpus = trained
    df = pd.read_csv(corpus).head(40)
    data = tmp_path / "data"
    data.mkdir()
    df.head(15).to_json(data / "a.jsonl", orient="records", lines=True)
    df.iloc[15:30].to_parquet(data / "b.parquet", row_group_size=4)
    with gzip.open(data / "c.tsv.gz", "wt") as fh:
        df.iloc[30:].to_csv(fh, sep="\t", index=False)
    got = classify_ray(st, "m", data, tmp_path / "out", id_column="doc", block_rows=4,
                       workers=1)
    assert got.documents == 40 and got.blocks == 4 + 4 + 3
    out = pd.read_parquet(tmp_path / "out")
    assert sorted(out.id) == sorted(df.doc)
    assert {Path(f).name for f in out.input_file} == {"a.jsonl", "b.parquet", "c.tsv.gz"}
    # a quoted glob picks files as the folder does
    assert [p.name for p in list_inputs(str(data / "*.parquet"))] == ["b.parquet"]


def test_blocks_read_what_the_streaming_reader_reads(tmp_path: Path) -> None:
    """Seeking to a block gives the rows, ids and row numbers the local engine sees,
    with quoted newlines, blank rows and JSON blank lines in the way."""
    csv_path = tmp_path / "t.csv"
    csv_path.write_text('text,k\n"two\nlines",a\n\nplain,b\n"x, y",c\nlast,d\n')
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"text": "one"}\n\n{"text": "two"}\n{"text": "three"}\n')
    for path in (csv_path, jsonl):
        plan = plan_file(path, "0" * 64, 2, "text", None)
        got = [r for b in plan.blocks for r in zip(*read_block(b, "text", None),
                                                    strict=True)]
        want = [(str(n), rec["text"], n) for n, rec in open_table(path).rows]
        assert got == want, path
    assert plan.documents == 3 and [b.n for b in plan.blocks] == [2, 1]


def test_killed_job_resumes_without_loss_or_duplicates(
        tmp_path: Path, local_ray: None, trained: tuple[study_mod.Study, Path]) -> None:
    st, corpus = trained
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "replicoder.cli", "classify", str(corpus), "--model", "m",
           "--out", str(out), "--id", "doc", "--engine", "ray", "--workers", "1",
           "--checkpoint-every", "10", "--batch-size", "2", "--study", str(st.root)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 180
    try:
        while time.time() < deadline and len(list(out.glob("part-*.parquet"))) < 3:
            assert proc.poll() is None, "the job finished before it could be killed"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started
        proc.wait()
    written = len(list(out.glob("part-*.parquet")))
    assert 3 <= written < 30
    resumed = classify_ray(st, "m", corpus, out, id_column="doc", block_rows=10,
                           batch_size=2, workers=2)
    assert resumed.resumed_blocks >= written and resumed.documents == 300
    got = pd.read_parquet(out)
    assert sorted(got.id) == sorted(pd.read_csv(corpus).doc)  # each id exactly once
    assert not list(out.glob(".*.tmp"))


def test_bad_input_and_missing_ray(tmp_path: Path, local_ray: None,
                                   trained: tuple[study_mod.Study, Path],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    st, corpus = trained
    with pytest.raises(ReplicoderError, match="no column 'body'.*--text"):
        classify_ray(st, "m", corpus, tmp_path / "o", text="body")
    with pytest.raises(ReplicoderError, match="unknown model 'ghost'"):
        classify_ray(st, "ghost", corpus, tmp_path / "o")
    with pytest.raises(ReplicoderError, match="matches no CSV"):
        classify_ray(st, "m", str(tmp_path / "*.csv"), tmp_path / "o")
    gap = tmp_path / "gap.csv"
    pd.DataFrame({"text": ["fine", " ", "also fine"]}).to_csv(gap, index=False)
    with pytest.raises(ReplicoderError, match=r"gap.csv, row 2: the text .* is empty"):
        classify_ray(st, "m", gap, tmp_path / "o")
    with pytest.raises(ReplicoderError, match="too few for 3 workers"):
        classify_ray(st, "m", corpus, tmp_path / "o", id_column="doc", workers=3)
    with pytest.raises(ReplicoderError, match="another model or settings"):
        classify_ray(st, "m", corpus, tmp_path / "o", id_column="doc", block_rows=7)
    runner = CliRunner()
    base = ["classify", str(corpus), "--model", "m", "--id", "doc", "--study", str(st.root)]
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "r"), "--engine", "ray",
                              "--route-below", "0.5", "--route-to", "x"])
    assert isinstance(res.exception, ReplicoderError) and "routing" in str(res.exception)
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.delitem(sys.modules, "replicoder.classify.ray_engine")
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "r2"), "--engine", "ray"])
    assert isinstance(res.exception, ReplicoderError)
    assert "pip install 'replicoder[ray]'" in str(res.exception)
    assert "--engine" in runner.invoke(app, ["classify", "--help"]).output
