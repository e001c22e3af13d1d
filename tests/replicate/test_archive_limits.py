"""Hostile archives for `reproduce` (issue 25, items 2, 3, 8, 9, 12): the lock is read first,
members it does not list or larger than listed are refused before they are written, counts
and sizes are capped, model folders may hold no code, and a refusal leaves nothing behind.

Every archive here is crafted by hand (no model is trained)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.cli import app
from replicoder.errors import ReplicoderError, lines
from replicoder.replicate.rerun import reproduce
from replicoder.replicate.unpack import Limits, copy_capped


def _pack(path: Path, members: dict[str, bytes], *, lock: dict[str, object] | None = None,
          sizes: dict[str, int] | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """An archive of ``members`` whose lock lists them (``sizes`` overrides their sizes);
    ``extra`` members are packed but not listed; ``lock`` replaces the lock's fields."""
    made = {"format": 1, "texts": True, "environment": {}, "models": {},
            "files": {n: hashlib.sha256(d).hexdigest() for n, d in members.items()},
            "sizes": {n: len(d) for n, d in members.items()} | (sizes or {}), **(lock or {})}
    with tarfile.open(path, "w:gz") as tar:
        for name, data in [("lock.json", json.dumps(made).encode()), *members.items(),
                           *(extra or {}).items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _study_members(tmp: Path) -> dict[str, bytes]:
    """The files of a new, empty study, as archive members under study/."""
    st = study_mod.init(tmp / "made", "cap")
    return {f"study/{p.relative_to(st.root).as_posix()}": p.read_bytes()
            for p in sorted(st.root.rglob("*")) if p.is_file()}


def _refused(archive: Path, workdir: Path, match: str, limits: Limits | None = None) -> str:
    with pytest.raises(ReplicoderError, match=match) as info:
        reproduce(archive, workdir, limits=limits)
    return str(info.value)


def test_a_member_larger_than_listed_is_refused_before_it_is_written(tmp_path: Path) -> None:
    big = b"x" * 3_000_000
    archive = _pack(tmp_path / "a.tar.gz", {"study/notes.txt": big},
                    sizes={"study/notes.txt": 10})
    message = _refused(archive, tmp_path / "w", "larger than the lock lists")
    assert "study/notes.txt: 3,000,000 bytes, the lock lists 10" in message
    assert "Nothing was written" in message and str(tmp_path / "w") in message
    assert not (tmp_path / "w").exists()


def test_writing_stops_at_the_listed_size() -> None:
    sink = io.BytesIO()
    with pytest.raises(ReplicoderError, match="more than the 100 bytes the lock lists"):
        copy_capped(io.BytesIO(b"y" * 5_000_000), sink, 100, "big.txt")
    assert len(sink.getvalue()) <= 100
    sink = io.BytesIO()
    assert copy_capped(io.BytesIO(b"y" * 100), sink, 100, "ok.txt") == 100


def test_too_many_members_are_refused_before_any_is_created(tmp_path: Path) -> None:
    members = {f"study/f{i}.txt": b"" for i in range(10_001)}
    archive = _pack(tmp_path / "many.tar.gz", members)
    message = _refused(archive, tmp_path / "w", "more than 10,000 members")
    assert "--max-members" in message and not (tmp_path / "w").exists()
    small = _pack(tmp_path / "small.tar.gz", {f"study/f{i}.txt": b"" for i in range(30)})
    _refused(small, tmp_path / "w2", "more than 20 members", Limits(max_members=20))
    assert not (tmp_path / "w2").exists()


def test_total_size_is_capped(tmp_path: Path) -> None:
    archive = _pack(tmp_path / "a.tar.gz", {"study/a.txt": b"a" * 600, "study/b.txt": b"b" * 600})
    message = _refused(archive, tmp_path / "w", r"unpacks to 1,\d{3} bytes, more than the cap",
                       Limits(max_bytes=1000))
    assert "--max-gb" in message and not (tmp_path / "w").exists()


def test_cli_flags_raise_the_caps(tmp_path: Path) -> None:
    members = {f"study/f{i}.txt": b"" for i in range(30)} | {"study/big.txt": b"b" * 1_100_000}
    archive = _pack(tmp_path / "a.tar.gz", members)
    got = CliRunner().invoke(app, ["reproduce", str(archive), "--workdir", str(tmp_path / "w"),
                                   "--max-members", "20"])
    assert isinstance(got.exception, ReplicoderError)
    assert "more than 20 members" in str(got.exception)
    got = CliRunner().invoke(app, ["reproduce", str(archive), "--workdir", str(tmp_path / "w"),
                                   "--max-members", "100", "--max-gb", "0.001"])
    assert "more than the cap of 1,000,000 bytes" in str(got.exception)


def test_an_unlisted_member_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    archive = _pack(tmp_path / "a.tar.gz", {"study/a.txt": b"a"},
                    extra={"study/models/m/extra.json": b"{}"})
    message = _refused(archive, tmp_path / "w", "extra.json: not listed in the lock")
    assert not (tmp_path / "w").exists() and "Nothing was written" in message


def test_100000_unlisted_members_give_a_short_error(tmp_path: Path) -> None:
    extra = {f"study/junk/{i:06d}": b"" for i in range(100_000)}
    archive = _pack(tmp_path / "a.tar.gz", {"study/a.txt": b"a"}, extra=extra)
    message = _refused(archive, tmp_path / "w", "100,000 members not listed in the lock",
                       Limits(max_members=200_000))
    assert len(message.splitlines()) < 20 and len(message) < 3000
    assert "study/junk/000000: not listed" in message and "99,990 more" in message
    assert not (tmp_path / "w").exists()


def test_summarise_caps_count_and_length() -> None:
    assert lines(["a", "b"]) == "a\nb"
    text = lines([f"row {i}" for i in range(200_000)], limit=3)
    assert text.splitlines() == ["row 0", "row 1", "row 2", "... and 199,997 more (200,000 in all)"]
    assert len(lines(["x" * 4_000_000])) < 300


def test_a_refusal_after_unpacking_removes_what_was_written(tmp_path: Path) -> None:
    members = _study_members(tmp_path)
    book = members["study/codebook.yaml"]
    changed = book.replace(b"Macroeconomics", b"Macroeconomicz")
    assert changed != book and len(changed) == len(book)
    archive = _pack(tmp_path / "a.tar.gz", {**members, "study/codebook.yaml": changed},
                    lock={"codebook_sha256": hashlib.sha256(book).hexdigest()})
    work = tmp_path / "w"
    message = _refused(archive, work, "the codebook was changed")
    assert f"Removed {work}" in message and not work.exists()
    work.mkdir()  # a folder the user made stays, emptied
    message = _refused(archive, work, "the codebook was changed")
    assert f"Removed what was unpacked into {work}" in message
    assert work.is_dir() and not any(work.iterdir())


def test_a_deeply_nested_lock_gives_a_message(tmp_path: Path) -> None:
    archive = tmp_path / "deep.tar.gz"
    data = b"[" * 200_000 + b"]" * 200_000
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("lock.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    _refused(archive, tmp_path / "w", "nested too deeply")
    got = subprocess.run([sys.executable, "-m", "replicoder.cli", "reproduce", str(archive),
                          "--workdir", str(tmp_path / "c")], capture_output=True, text=True)
    assert got.returncode == 2 and "nested too deeply" in got.stderr
    assert "Traceback" not in got.stderr + got.stdout


@pytest.mark.parametrize("name", ["/ABSOLUTE", "../outside.txt", "study/../../outside.txt"])
def test_lock_entries_outside_the_folder_are_refused_unread(tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not the archive's")
    name = name.replace("/ABSOLUTE", str(outside))
    members = _study_members(tmp_path)
    archive = _pack(tmp_path / "a.tar.gz", members,
                    lock={"files": {**{n: hashlib.sha256(d).hexdigest()
                                       for n, d in members.items()}, name: "0" * 64},
                          "sizes": {**{n: len(d) for n, d in members.items()}, name: 1}})
    message = _refused(archive, tmp_path / "w", "entries outside the folder; refused before "
                                                "reading any file")
    assert "sha256 differs" not in message and not (tmp_path / "w").exists()


def test_an_older_lock_without_sizes_is_refused(tmp_path: Path) -> None:
    archive = _pack(tmp_path / "a.tar.gz", {"study/a.txt": b"a"}, lock={"sizes": None})
    _refused(archive, tmp_path / "w", "lists no member sizes")


@pytest.mark.parametrize("name,data,match", [
    ("base/m/modeling_evil.py", b"import os\n", "code in a model folder"),
    ("study/models/m/adapter/helper.pyc", b"\x00", "code in a model folder"),
])
def test_code_files_in_model_folders_are_refused_unwritten(
        tmp_path: Path, name: str, data: bytes, match: str) -> None:
    archive = _pack(tmp_path / "a.tar.gz", {**_study_members(tmp_path), name: data})
    _refused(archive, tmp_path / "w", match)
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("name", ["base/m/config.json", "study/models/m/adapter/x/config.json",
                                  "base/m/tokenizer_config.json"])
def test_auto_map_in_a_model_config_is_refused_before_loading(tmp_path: Path, name: str) -> None:
    config = {"model_type": "evil", "nested": [{"auto_map": {"AutoModel": "modeling_evil.M"}}]}
    archive = _pack(tmp_path / "a.tar.gz",
                    {**_study_members(tmp_path), name: json.dumps(config).encode()})
    message = _refused(archive, tmp_path / "w", "'auto_map' names custom model code")
    assert name in message and "before loading anything" in message
    assert not (tmp_path / "w").exists()


def test_a_huge_member_name_gives_a_short_error(tmp_path: Path) -> None:
    name = "study/" + "a" * 100_000 + ".pkl"
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        tar.addfile(info, io.BytesIO(b""))
    message = _refused(archive, tmp_path / "w", "100,010 characters")
    assert "pickle" in message and len(message) < 1000


def test_unpack_never_touches_a_folder_with_files(tmp_path: Path) -> None:
    from replicoder.replicate.rerun import unpack

    archive = _pack(tmp_path / "a.tar.gz", {"study/a.txt": b"a"},
                    extra={"study/b.txt": b"b"})
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    with pytest.raises(ReplicoderError, match="not an empty folder"):
        unpack(archive, mine)
    assert (mine / "keep.txt").read_text() == "mine"
    with pytest.raises(ReplicoderError, match="b.txt: not listed"):
        unpack(archive, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    ok = _pack(tmp_path / "ok.tar.gz", {"study/a.txt": b"a"})
    assert unpack(ok, tmp_path / "good") == ["lock.json", "study/a.txt"]
    assert (tmp_path / "good" / "study" / "a.txt").read_bytes() == b"a"
