"""freeze -> reproduce in another folder, tampering, hostile archives (issue 14).

A 300-document study from the shipped sample and a tiny random model of the embedded
architecture (plumbing only: its answers mean nothing, but they must come back the same).
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from paths import SAMPLE
from typer.testing import CliRunner

from replicoder import importer
from replicoder import study as study_mod
from replicoder.classify.local import classify
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.evaluate.compare import evaluate_models
from replicoder.models.tiny import build_tiny
from replicoder.replicate.archive import freeze
from replicoder.replicate.rerun import TOLERANCE, reproduce
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> tuple[study_mod.Study, Path]:
    root = tmp_path_factory.mktemp("freeze")
    rows = pd.read_csv(SAMPLE).head(300)
    rows.to_csv(root / "docs.csv", index=False)
    st = study_mod.init(root / "study", "cap")
    importer.import_file(st, root / "docs.csv", text="text", id="id", labels="major_topic")
    tiny = str(build_tiny(root / "tiny"))
    train(st, "m", TrainConfig(base=tiny, epochs=1, batch_size=16, train_size=64,
                               precision="fp32"))
    evaluate_models(st, ["m"], n_boot=50)
    classify(st, "m", st.root / "coded.parquet", checkpoint_every=100)
    archive = root / "study.tar.gz"
    freeze(st, archive)
    return st, archive


def test_freeze_holds_the_study_the_lock_and_a_readme(
        frozen: tuple[study_mod.Study, Path]) -> None:
    _, archive = frozen
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        lock = json.load(tar.extractfile("lock.json"))  # type: ignore[arg-type]
        readme = tar.extractfile("README.md").read().decode()  # type: ignore[union-attr]
        assert all(m.isfile() for m in tar.getmembers())
    assert names == sorted(names) and not any(n.startswith("/") or ".." in n for n in names)
    for name in ("study/replicoder.toml", "study/codebook.yaml", "study/study.db",
                 "study/models/m/manifest.json", "study/models/m/adapter/adapter_config.json",
                 "study/coded.parquet", "templates/annotate.j2"):
        assert name in names
    assert not any("/checkpoint/" in n for n in names)
    assert lock["models"]["m"]["precision"] == "fp32"
    assert lock["models"]["m"]["base"]["kind"] == "folder"
    assert lock["environment"]["packages"]["torch"]
    assert sorted(lock["reproducible"].values()) == ["classify", "evaluate"]
    assert "replicoder evaluate m --baseline tfidf --split test --n-boot 50" in readme
    assert "replicoder classify --model m --out coded.parquet --checkpoint-every 100" in readme


def test_reproduce_in_another_folder_passes(frozen: tuple[study_mod.Study, Path],
                                            tmp_path: Path) -> None:
    _, archive = frozen
    result = reproduce(archive, tmp_path / "rerun")
    failed = [c for c in result.checks if not c.passed]
    assert result.passed, failed
    assert {c.step for c in result.checks} == {"evaluate", "classify"}
    assert not result.diffs


def test_block_size_does_not_change_answers(frozen: tuple[study_mod.Study, Path],
                                            tmp_path: Path) -> None:
    _, archive = frozen
    result = reproduce(archive, tmp_path / "rerun", steps=("classify",), checkpoint_every=7)
    assert result.passed, [c for c in result.checks if not c.passed]
    gap = next(c for c in result.checks if c.what.startswith("scores"))
    assert gap.value is not None and gap.value <= TOLERANCE["fp32"]


def test_cli_reproduce_prints_a_table_and_samples(frozen: tuple[study_mod.Study, Path],
                                                  tmp_path: Path) -> None:
    _, archive = frozen
    got = CliRunner().invoke(app, ["reproduce", str(archive), "--workdir",
                                   str(tmp_path / "w"), "--steps", "classify", "--sample",
                                   "40"])
    assert got.exit_code == 0, got.output
    assert "pass" in got.output and "FAIL" not in got.output
    out = next((tmp_path / "w" / "reproduced").glob("*.parquet"))
    assert len(pd.read_parquet(out)) == 40


def test_frozen_base_weights_are_used(frozen: tuple[study_mod.Study, Path],
                                      tmp_path: Path) -> None:
    st, _ = frozen
    archive = freeze(st, tmp_path / "weights.tar.gz", include_base_weights=True).path
    result = reproduce(archive, tmp_path / "rerun", steps=("classify",), sample=20)
    assert result.passed, [c for c in result.checks if not c.passed]
    settings = json.loads((tmp_path / "rerun/study/models/m/config.json").read_text())
    assert Path(settings["base"]) == (tmp_path / "rerun" / "base" / "m").resolve()


def _repack(archive: Path, target: Path, change: dict[str, bytes],
            add: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(archive) as src, tarfile.open(target, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            data = change.get(member.name, data)
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
        for name, data in (add or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return target


def test_a_changed_adapter_byte_fails_naming_the_adapter(
        frozen: tuple[study_mod.Study, Path], tmp_path: Path) -> None:
    st, archive = frozen
    weights = st.models_dir / "m" / "adapter" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    bad = _repack(archive, tmp_path / "bad.tar.gz",
                  {"study/models/m/adapter/adapter_model.safetensors": bytes(data)})
    with pytest.raises(ReplicoderError, match=r"model 'm': the adapter .* was changed"):
        reproduce(bad, tmp_path / "rerun")


def test_a_changed_codebook_label_fails_naming_the_codebook(
        frozen: tuple[study_mod.Study, Path], tmp_path: Path) -> None:
    st, archive = frozen
    text = (st.root / "codebook.yaml").read_text()
    assert "Macroeconomics" in text
    bad = _repack(archive, tmp_path / "bad.tar.gz", {
        "study/codebook.yaml": text.replace("Macroeconomics", "Macro economy").encode()})
    with pytest.raises(ReplicoderError, match="the codebook was changed"):
        reproduce(bad, tmp_path / "rerun")


def test_a_file_added_after_freezing_fails(frozen: tuple[study_mod.Study, Path],
                                           tmp_path: Path) -> None:
    _, archive = frozen
    bad = _repack(archive, tmp_path / "bad.tar.gz", {}, {"study/models/m/extra.json": b"{}"})
    with pytest.raises(ReplicoderError, match="extra.json: not listed in the lock"):
        reproduce(bad, tmp_path / "rerun")


@pytest.mark.parametrize("name,kind", [("../x", tarfile.REGTYPE), ("/etc/x", tarfile.REGTYPE),
                                       ("study/link", tarfile.SYMTYPE),
                                       ("study/dev", tarfile.CHRTYPE),
                                       ("study/models/m/adapter/x.bin", tarfile.REGTYPE)])
def test_hostile_members_are_refused_before_anything_is_written(
        tmp_path: Path, name: str, kind: bytes) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(tarfile.TarInfo("lock.json"), io.BytesIO(b""))
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "/etc/passwd"
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(ReplicoderError, match="refused"):
        reproduce(archive, tmp_path / "w")
    assert not (tmp_path / "w").exists() and not (tmp_path / "x").exists()


def test_no_texts_keeps_hashes_only_and_leaves_the_study_alone(
        frozen: tuple[study_mod.Study, Path], tmp_path: Path) -> None:
    st, _ = frozen
    archive = freeze(st, tmp_path / "notexts.tar.gz", include_texts=False).path
    with tarfile.open(archive) as tar:
        tar.extract("study/study.db", tmp_path, filter="data")
    copy = study_mod.Store(tmp_path / "study" / "study.db")
    ids = copy.doc_ids()[:3]
    assert all(d.text.startswith("sha256:") for d in copy.documents(ids))
    copy.close()
    with st.store() as store:
        assert not any(d.text.startswith("sha256:") for d in store.documents(ids))
    with pytest.raises(ReplicoderError, match="--no-texts"):
        reproduce(archive, tmp_path / "rerun")


def test_bad_arguments(frozen: tuple[study_mod.Study, Path], tmp_path: Path) -> None:
    st, archive = frozen
    with pytest.raises(ReplicoderError, match=r"\.tar\.gz"):
        freeze(st, tmp_path / "x.zip")
    with pytest.raises(ReplicoderError, match="steps"):
        reproduce(archive, tmp_path / "a", steps=("train",))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    with pytest.raises(ReplicoderError, match="not empty"):
        reproduce(archive, tmp_path / "full")
    shutil.copy(SAMPLE, tmp_path / "notar.tar.gz")
    with pytest.raises(ReplicoderError, match="not a readable"):
        reproduce(tmp_path / "notar.tar.gz", tmp_path / "b")
