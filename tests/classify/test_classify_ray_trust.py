"""Issue 25, items 18 and 19 with the ray engine: files it cannot read are listed and
refused (or left out with --skip-unreadable, listed); empty ids and ids repeated within and
across input files are warned about, naming the steps that will refuse them. Starts a
local Ray: run alone."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from replicoder import importer
from replicoder import study as study_mod
from replicoder.classify.blocks import input_files
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train

ray = pytest.importorskip("ray", reason="install the extra: pip install 'replicoder[ray]'")
from replicoder.classify.ray_engine import classify_ray  # noqa: E402

pytestmark = pytest.mark.timeout(300)
SAMPLE = Path(str(resources.files("replicoder") / "data" / "cap_bills_sample.csv"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> study_mod.Study:
    root = tmp_path_factory.mktemp("raytrust")
    tiny = str(build_tiny(root / "tiny"))
    df = pd.read_csv(SAMPLE)
    st = study_mod.init(root / "study")
    df[df.major_topic.isin([3, 12])].groupby("major_topic").head(8).to_csv(
        root / "train.csv", index=False)
    importer.import_file(st, root / "train.csv", text="text", id="id", labels="major_topic")
    train(st, "m", TrainConfig(base=tiny, epochs=1, batch_size=8))
    return st


def _folder(tmp_path: Path) -> Path:
    df = pd.read_csv(SAMPLE).head(12).assign(doc=lambda d: "d" + d.id.astype(str))
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    df.iloc[:6][["doc", "text"]].to_csv(data / "a.csv", index=False)
    part = df.iloc[6:][["doc", "text"]].copy()
    part.iloc[0, 0] = "d" + str(df.id.iloc[0])      # the id of a row of a.csv
    part.iloc[1, 0] = part.iloc[2, 0]                # twice in this file
    part.iloc[3, 0] = ""                             # empty
    part.to_csv(data / "sub" / "b.csv", index=False)
    (data / "notes.txt").write_text("a text file")
    (data / "sub" / "codes.xlsx").write_bytes(b"PK\x03\x04")
    (data / ".DS_Store").write_bytes(b"\0")
    return data


def test_unreadable_files_are_listed_and_refused(tmp_path: Path) -> None:
    data = _folder(tmp_path)
    with pytest.raises(ReplicoderError) as err:
        input_files(data)
    message = str(err.value)
    assert "holds 2 files the ray engine cannot read" in message
    assert "notes.txt" in message and "sub/codes.xlsx" in message
    assert "--skip-unreadable" in message and ".DS_Store" not in message
    files, skipped = input_files(data, skip_unreadable=True)
    assert [p.name for p in files] == ["a.csv", "b.csv"]
    assert [p.name for p in skipped] == ["notes.txt", "codes.xlsx"]
    with pytest.raises(ReplicoderError, match="cannot read"):
        input_files(str(data / "*"))
    only = tmp_path / "only"
    only.mkdir()
    (only / "x.txt").write_text("x")
    with pytest.raises(ReplicoderError) as err:
        input_files(only, skip_unreadable=True)
    assert "x.txt" in str(err.value) and "--skip-unreadable" not in str(err.value)


def test_skipped_files_and_id_problems_are_warned(tmp_path: Path, local_ray: None,
                                                  trained: study_mod.Study) -> None:
    data = _folder(tmp_path)
    with pytest.raises(ReplicoderError, match="notes.txt"):
        classify_ray(trained, "m", data, tmp_path / "refused", id_column="doc")
    assert not (tmp_path / "refused").exists()
    got = classify_ray(trained, "m", data, tmp_path / "out", id_column="doc", workers=1,
                       skip_unreadable=True)
    assert got.documents == 12
    later = "`replicoder estimate` and `review sample --from` will refuse this output"
    assert got.warnings[0].startswith("left out 2 files the ray engine cannot read")
    assert got.warnings[1:] == [
        f"1 rows have an empty id; {later}; check the --id column of the input",
        f"1 rows repeat an id seen before in the same input file; {later}; check the --id "
        "column of the input",
        f"1 rows repeat an id of another input file (ids are not unique across the files); "
        f"{later}; check the --id column of the input"]
    assert got.manifest["warnings"] == got.warnings
    assert sorted(Path(p).name for p in got.manifest["skipped_inputs"]) == ["codes.xlsx",
                                                                            "notes.txt"]
    res = CliRunner().invoke(app, ["classify", str(data), "--model", "m", "--id", "doc",
                                   "--out", str(tmp_path / "cli"), "--engine", "ray",
                                   "--skip-unreadable", "--study", str(trained.root)])
    assert res.exit_code == 0, res.output
    assert "warning: 1 rows repeat an id of another input file" in res.output
