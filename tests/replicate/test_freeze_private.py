"""What `freeze` keeps out of an archive (issue 25, items 1, 4, 5) and the adapter a run
loaded against the model's manifest (the issue's "also").

A study of 200 sample bills with a tiny random model (plumbing only), an evaluate run, a
classify run on a CSV inside the study, LLM proposals whose raw answers quote the texts and
an LLM cache row holding a prompt."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import sqlite3
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from paths import SAMPLE

from replicoder import importer
from replicoder import study as study_mod
from replicoder.classify import classify
from replicoder.errors import ReplicoderError
from replicoder.evaluate import evaluate_models
from replicoder.models.tiny import build_tiny
from replicoder.replicate.archive import freeze
from replicoder.replicate.rerun import reproduce
from replicoder.store.annotations import Proposal
from replicoder.store.cache import CachedResponse
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(600)
NOW = "2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[study_mod.Study, list[str]]:
    """The study, and every document text in it or in its classify input."""
    root = tmp_path_factory.mktemp("private")
    rows = pd.read_csv(SAMPLE)
    rows.head(200).to_csv(root / "docs.csv", index=False)
    st = study_mod.init(root / "study", "cap")
    importer.import_file(st, root / "docs.csv", text="text", id="id", labels="major_topic")
    corpus = rows.iloc[300:340][["id", "text"]]
    corpus.to_csv(st.root / "corpus.csv", index=False)
    tiny = str(build_tiny(root / "tiny"))
    train(st, "m", TrainConfig(base=tiny, epochs=1, batch_size=16, train_size=32,
                               precision="fp32"))
    evaluate_models(st, ["m"], n_boot=20)
    classify(st, "m", st.root / "coded.parquet", input=st.root / "corpus.csv")
    with st.store() as store:
        docs = store.documents(store.doc_ids()[:5])
        store.add_proposals(Proposal(d.doc_id, "gpt", frozenset({"1"}), "ok",
                                     f'Code 1, because "{d.text}"', {"model": "x"}, NOW)
                            for d in docs)
        store.cache_answer(CachedResponse("k1", "gpt", "openai", "x", {"messages": [
            {"role": "user", "content": docs[0].text}]}, "1", 10, 1, 0.0, 0.1, "r", NOW))
        texts = [d.text for d in store.documents(store.doc_ids())]
    return st, texts + corpus["text"].tolist()


def _haystacks(name: str, data: bytes, tmp: Path) -> list[str]:
    """Every way the member's bytes can hold text: raw, and read as parquet or SQLite."""
    out = [data.decode("utf-8", "replace")]
    if name.endswith(".parquet"):
        df = pd.read_parquet(io.BytesIO(data))
        out.append("\n".join(str(v) for v in df.to_numpy().ravel()))
    if data.startswith(b"SQLite format 3"):
        path = tmp / "copy.db"
        path.write_bytes(data)
        con = sqlite3.connect(path)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out += ["\n".join(str(v) for row in con.execute(f"SELECT * FROM {t}") for v in row)
                for t in tables]
        con.close()
        path.unlink()
    return out


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def test_no_texts_archive_holds_no_document_text_anywhere(
        made: tuple[study_mod.Study, list[str]], tmp_path: Path) -> None:
    st, texts = made
    needles = {_plain(t) for t in texts if len(_plain(t)) >= 20}
    assert len(needles) > 200
    archive = freeze(st, tmp_path / "a.tar.gz", include_texts=False)
    with tarfile.open(archive.path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    assert "study/corpus.csv" not in members and "study/coded.parquet" in members
    assert any(n.endswith("predictions.parquet") for n in members)
    withheld = archive.lock["withheld"]["study/corpus.csv"]
    data = (st.root / "corpus.csv").read_bytes()
    assert withheld == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    leaks = []
    for name, data in members.items():
        hay = _plain("\n".join(_haystacks(name, data, tmp_path)))
        leaks += [(name, n[:40]) for n in needles if n in hay]
    assert not leaks, leaks[:5]
    # with texts, the same search finds them (the search itself works)
    full = freeze(st, tmp_path / "b.tar.gz")
    with tarfile.open(full.path) as tar:
        db = tar.extractfile("study/study.db").read()  # type: ignore[union-attr]
        assert "study/corpus.csv" in tar.getnames()
    assert sum(n in _plain("\n".join(_haystacks("study.db", db, tmp_path))) for n in needles) > 150


def test_no_texts_hashes_raw_llm_answers_and_keeps_labels(
        made: tuple[study_mod.Study, list[str]], tmp_path: Path) -> None:
    st, _ = made
    archive = freeze(st, tmp_path / "a.tar.gz", include_texts=False).path
    with tarfile.open(archive) as tar:
        tar.extract("study/study.db", tmp_path, filter="data")
    with st.store() as store:
        before = {p.doc_id: p for p in store.proposals()}
    copy = study_mod.Store(tmp_path / "study" / "study.db")
    after = {p.doc_id: p for p in copy.proposals()}
    cached = copy.conn.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0]
    copy.close()
    assert set(after) == set(before) and len(after) == 5 and cached == 0
    for doc_id, p in after.items():
        assert p.labels == before[doc_id].labels and p.status == "ok"
        assert p.raw == "sha256:" + hashlib.sha256(before[doc_id].raw.encode()).hexdigest()


@pytest.mark.parametrize("line,ok", [
    ('api_key = "sk-proj-abcdefghijklmnopqrstuvwx"', False),
    ('token = "hunter2"', False),
    ('password = "hunter2"', False),
    ('base_url = "https://x.test/?key=sk-abcdefghijklmnopqrstuvwx"', False),
    ('api_key_env = "sk-abcdefghijklmnopqrstu"', False),
    ('api_key_env = "OPENAI_API_KEY"', True),
    ('max_tokens = 12', True),
    ('api_key = ""', True),
])
def test_freeze_refuses_a_key_in_the_settings_naming_the_line(
        cap_study: study_mod.Study, tmp_path: Path, line: str, ok: bool) -> None:
    config = cap_study.root / "replicoder.toml"
    text = config.read_text()
    config.write_text(text + f"\n[annotators.gpt]\nmodel = \"x\"\n{line}\n")
    number = len((text + "\n[annotators.gpt]\nmodel = \"x\"\n").splitlines()) + 1
    if ok:
        freeze(cap_study, tmp_path / "a.tar.gz")
        return
    with pytest.raises(ReplicoderError, match="refuses to pack a key") as info:
        freeze(cap_study, tmp_path / "a.tar.gz")
    assert f"replicoder.toml:{number}:" in str(info.value)
    assert "hunter2" not in str(info.value) and "abcdefghij" not in str(info.value)
    assert not (tmp_path / "a.tar.gz").exists()


def test_an_adapter_changed_after_training_warns_and_fails_reproduce(
        made: tuple[study_mod.Study, list[str]], tmp_path: Path) -> None:
    st = study_mod.open_study(shutil.copytree(made[0].root, tmp_path / "copy"))
    weights = st.models_dir / "m" / "adapter" / "adapter_model.safetensors"
    good = weights.read_bytes()
    bad = bytearray(good)
    bad[-1] ^= 1
    weights.write_bytes(bytes(bad))
    with pytest.warns(UserWarning, match="model 'm': the adapter loaded has sha256"):
        result = classify(st, "m", st.root / "coded.parquet", input=st.root / "corpus.csv")
    assert result.manifest["adapter_sha256"] != result.manifest["model_manifest"][
        "adapter_sha256"]
    with pytest.warns(UserWarning, match="model 'm': the adapter loaded has sha256"):
        metrics = evaluate_models(st, ["m"], n_boot=5)
    assert metrics["models"]["m"]["adapter_sha256"] == result.manifest["adapter_sha256"]
    weights.write_bytes(good)  # the archive's adapter is the trained one again
    archive = freeze(st, tmp_path / "a.tar.gz").path
    with pytest.raises(ReplicoderError, match=r"run \S+ \(classify\) loaded model 'm' with "
                                              "adapter"):
        reproduce(archive, tmp_path / "rerun")
    assert not (tmp_path / "rerun").exists()
