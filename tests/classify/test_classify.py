"""classify: formats, provenance, resume after a stop and after a real kill, routing to
an annotator, bad input. Uses a tiny random model of the embedded architecture."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from killing import kill_after_parts
from paths import BILLS
from test_splits import make_study
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.classify.local import ClassifyStopped, classify
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[study_mod.Study, Path, str]:
    root = tmp_path_factory.mktemp("classify")
    tiny = str(build_tiny(root / "tiny"))
    df = pd.read_csv(BILLS)
    rows = df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(20)
    st = make_study(root / "study", rows)
    train(st, "m", TrainConfig(base=tiny, epochs=1, batch_size=8))
    corpus = root / "corpus.csv"
    big = df.head(300).assign(doc=lambda d: "d" + d.id.astype(str))
    big[["doc", "text"]].rename(columns={"text": "body"}).to_csv(corpus, index=False)
    return st, corpus, tiny


def test_outputs_in_every_format_with_scores_and_provenance(
        tmp_path: Path, trained: tuple[study_mod.Study, Path, str]) -> None:
    st, corpus, _ = trained
    result = classify(st, "m", tmp_path / "out.parquet", input=corpus, text="body",
                      id_column="doc", checkpoint_every=120)
    assert result.documents == 300 and result.docs_per_s > 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    expected_ids = pd.read_csv(corpus).doc.tolist()
    assert out.id.tolist() == expected_ids  # input order, no duplicates
    score_cols = [f"score_{c}" for c in st.codebook.codes]
    assert list(out.columns[:3]) == ["id", "labels", "top_score"]
    np.testing.assert_allclose(out[score_cols].sum(axis=1), 1.0, rtol=1e-4)
    best = out[score_cols].to_numpy().argmax(axis=1)
    assert out.labels.tolist() == [st.codebook.codes[i] for i in best]
    assert set(out.model) == {"m"}
    assert set(out.adapter_sha256) == {result.manifest["adapter_sha256"]}
    assert not (tmp_path / "out.parquet.parts").exists()
    assert (tmp_path / "out.parquet.manifest.json").is_file()
    assert result.manifest["input"]["sha256"] and result.manifest["documents"] == 300
    for ext in ("csv", "jsonl", "dta"):
        classify(st, "m", tmp_path / f"out.{ext}", input=corpus, text="body",
                 id_column="doc", checkpoint_every=300)
    readers = {"csv": pd.read_csv, "jsonl": lambda p: pd.read_json(p, lines=True),
               "dta": pd.read_stata}
    for ext, read in readers.items():
        other = read(tmp_path / f"out.{ext}")
        assert other.id.astype(str).tolist() == expected_ids, ext
        # other block sizes change padding, so bf16 sums differ in the 4th decimal
        np.testing.assert_allclose(other.score_3, out.score_3, atol=2e-3, err_msg=ext)


def test_stopped_job_resumes_without_redoing_rows(
        tmp_path: Path, trained: tuple[study_mod.Study, Path, str]) -> None:
    st, _, _ = trained
    out = tmp_path / "own.parquet"
    with pytest.raises(ClassifyStopped, match="after 40 documents"):
        classify(st, "m", out, checkpoint_every=20, stop_after=2)
    assert not out.exists()
    resumed = classify(st, "m", out, checkpoint_every=20)
    assert resumed.resumed_from == 40 and resumed.documents == 80
    whole = classify(st, "m", tmp_path / "whole.parquet", checkpoint_every=20)
    a, b = pd.read_parquet(out), pd.read_parquet(whole.out)
    with st.store() as store:
        assert a.id.tolist() == store.doc_ids()
    pd.testing.assert_frame_equal(a, b)


def test_killed_process_resumes(tmp_path: Path,
                                trained: tuple[study_mod.Study, Path, str]) -> None:
    st, corpus, _ = trained
    out = tmp_path / "killed.parquet"
    cmd = [sys.executable, "-m", "replicoder.cli", "classify", str(corpus), "--model", "m",
           "--out", str(out), "--text", "body", "--id", "doc", "--checkpoint-every", "25",
           "--batch-size", "4", "--study", str(st.root)]
    kill_after_parts(cmd, tmp_path / "killed.parquet.parts", timeout=240)
    assert not out.exists()
    resumed = classify(st, "m", out, input=corpus, text="body", id_column="doc",
                       checkpoint_every=25, batch_size=4)
    assert 0 < resumed.resumed_from < 300 and resumed.documents == 300
    got = pd.read_parquet(out)
    assert got.id.tolist() == pd.read_csv(corpus).doc.tolist()


def test_routing_sends_unsure_documents_to_an_annotator(
        tmp_path: Path, trained: tuple[study_mod.Study, Path, str]) -> None:
    st, corpus, tiny = trained
    st.config["annotators"] = [{"name": "helper", "backend": "local", "model": tiny,
                                "max_tokens": 4}]
    st.save_config()
    st = study_mod.open_study(st.root)
    none = classify(st, "m", tmp_path / "r0.csv", route_below=0.0, route_to="helper")
    assert none.routed == 0
    assert set(pd.read_csv(tmp_path / "r0.csv").answered_by) == {"model"}
    everything = classify(st, "m", tmp_path / "r1.parquet", route_below=1.01,
                          route_to="helper", checkpoint_every=40)
    out = pd.read_parquet(tmp_path / "r1.parquet")
    used = out.answered_by.value_counts().to_dict()
    assert "model" not in used and sum(used.values()) == 80
    assert used.get("helper", 0) == everything.routed
    took = out[out.answered_by == "helper"]
    assert (took.labels.fillna("") != took.model_labels.fillna("")).any() or took.empty
    with st.store() as store:
        assert store.conn.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0] >= 80


def test_bad_input(tmp_path: Path, trained: tuple[study_mod.Study, Path, str]) -> None:
    st, corpus, _ = trained
    with pytest.raises(ReplicoderError, match="no column 'text'.*--text"):
        classify(st, "m", tmp_path / "o.parquet", input=corpus)
    with pytest.raises(ReplicoderError, match="no column 'nope'"):
        classify(st, "m", tmp_path / "o.parquet", input=corpus, text="body",
                 id_column="nope")
    with pytest.raises(ReplicoderError, match="unknown model 'ghost'"):
        classify(st, "ghost", tmp_path / "o.parquet")
    with pytest.raises(ReplicoderError, match="end the output name with one of"):
        classify(st, "m", tmp_path / "o.xlsx")
    with pytest.raises(ReplicoderError, match="both --route-below"):
        classify(st, "m", tmp_path / "o.csv", route_below=0.5)
    gap = tmp_path / "gap.csv"
    pd.DataFrame({"text": ["fine", " ", "also fine"]}).to_csv(gap, index=False)
    with pytest.raises(ReplicoderError, match=r"gap.csv, row 2: the text .* is empty"):
        classify(st, "m", tmp_path / "o.csv", input=gap)
    with pytest.raises(ReplicoderError, match="no such input file"):
        classify(st, "m", tmp_path / "o.csv", input=tmp_path / "missing.csv")
    empty = study_mod.init(tmp_path / "empty")
    with pytest.raises(ReplicoderError, match="unknown model 'm'"):
        classify(empty, "m", tmp_path / "o.csv")
    shutil.copytree(st.root / "models" / "m", empty.root / "models" / "m")
    with pytest.raises(ReplicoderError, match="the study has no documents"):
        classify(empty, "m", tmp_path / "o.csv")
    runner = CliRunner()
    res = runner.invoke(app, ["classify", str(corpus), "--model", "m", "--out",
                              str(tmp_path / "o.csv"), "--study", str(st.root)])
    assert res.exit_code != 0 and isinstance(res.exception, ReplicoderError)
    assert "classify" in runner.invoke(app, ["classify", "--help"]).output
    assert "--train-size" in runner.invoke(app, ["train", "--help"]).output


def test_provenance_hashes_the_adapter_actually_loaded(
        tmp_path: Path, trained: tuple[study_mod.Study, Path, str]) -> None:
    """Issue 12 item 15: a tampered adapter does not keep the training manifest's hash."""
    from safetensors.torch import load_file, save_file

    st, corpus, _ = trained
    shutil.copytree(st.models_dir / "m", st.models_dir / "tampered")
    weights = st.models_dir / "tampered" / "adapter" / "adapter_model.safetensors"
    tensors = load_file(str(weights))
    first = next(iter(tensors))
    tensors[first] = tensors[first] + 1.0
    save_file(tensors, str(weights))
    result = classify(st, "tampered", tmp_path / "out.parquet", input=corpus, text="body",
                      id_column="doc", checkpoint_every=300)
    trained_hash = result.manifest["model_manifest"]["adapter_sha256"]
    assert result.manifest["adapter_sha256"] != trained_hash
    assert set(pd.read_parquet(tmp_path / "out.parquet").adapter_sha256) == {
        result.manifest["adapter_sha256"]}


def test_duplicate_and_empty_ids_are_warned_about(
        tmp_path: Path, trained: tuple[study_mod.Study, Path, str]) -> None:
    st, _, _ = trained
    corpus = tmp_path / "dups.csv"
    corpus.write_text("doc,body\na,tax bill\na,health bill\n,farm bill\n", "utf-8")
    result = classify(st, "m", tmp_path / "out.csv", input=corpus, text="body",
                      id_column="doc")
    assert result.warnings == [
        "1 rows have an empty id; `replicoder estimate` and `review sample --from` will "
        "refuse this output; check the --id column of the input",
        "1 rows repeat an id seen before (ids are not unique); `replicoder estimate` and "
        "`review sample --from` will refuse this output; check the --id column of the input"]
    res = CliRunner().invoke(app, ["classify", str(corpus), "--model", "m", "--out",
                                   str(tmp_path / "o2.csv"), "--text", "body", "--id", "doc",
                                   "--study", str(st.root)])
    assert res.exit_code == 0 and "warning: 1 rows have an empty id" in res.output


def test_batches_span_checkpoint_blocks(tmp_path: Path,
                                        trained: tuple[study_mod.Study, Path, str]) -> None:
    from replicoder.classify.local import window_blocks

    st, _, _ = trained
    assert window_blocks(256, 1000) == 5 and window_blocks(4, 1000) == 1
    small = classify(st, "m", tmp_path / "small.parquet", checkpoint_every=3, batch_size=32)
    large = classify(st, "m", tmp_path / "large.parquet", checkpoint_every=1000,
                     batch_size=32)
    pd.testing.assert_frame_equal(pd.read_parquet(small.out), pd.read_parquet(large.out))
