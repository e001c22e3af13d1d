"""bench/gpu_check.py runs end to end on the CPU with the tiny model (so a crash in it
fails here, not on a GPU machine), writing every stage's figures; and the GGUF pieces
bench/gpu_carry.py cuts for a GPU machine join back only when every sha256 matches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import BILLS, TESTS

ROOT = TESTS.parent

pytestmark = pytest.mark.timeout(900)


def test_gpu_check_runs_every_stage_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "REPLICODER_BENCH_DATA": str(BILLS),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--device",
                          "cpu", "--quick", "--out", str(out)], cwd=ROOT / "bench", env=env,
                         capture_output=True, text=True, timeout=880)
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["failed_stages"] == [], json.dumps(data, indent=1)[:3000]
    for stage in ("matmul", "classifier", "generative", "classify", "agreement"):
        assert "stage_seconds" in data[stage]
    for stage in ("classifier", "generative", "classify"):
        assert 0 < data[stage]["utilisation"] < 1.5, data[stage]
    assert data["classifier"]["precision"] in ("bf16", "fp32")
    assert data["classify"]["docs"] == 200 and data["classify"]["batch_size"] == 32
    assert data["agreement"]["texts"] == 30 and data["agreement"]["agreement"] > 0.5


def test_a_failed_stage_is_recorded_and_the_next_one_runs(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from gpu_check import Report
    finally:
        sys.path.pop(0)
    path = tmp_path / "r.json"
    report = Report(path, {"device": "cpu"})
    report.stage("broken", lambda: {}["bf16"])  # the KeyError that stopped issue 10's run
    report.stage("next", lambda: {"x": 1})
    data = json.loads(path.read_text())
    assert data["broken"]["failed"].startswith("KeyError")
    assert data["next"]["x"] == 1


def test_gguf_pieces_join_only_when_every_hash_matches(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from gpu_carry import SUMS, join, split
    finally:
        sys.path.pop(0)
    source = tmp_path / "m.gguf"
    source.write_bytes(os.urandom(1000))
    pieces = split(source, tmp_path / "gguf", 450)
    assert [p.stat().st_size for p in pieces] == [334, 334, 332]
    assert len((tmp_path / "gguf" / SUMS).read_text().splitlines()) == 4
    joined = join(tmp_path / "gguf", tmp_path / "site" / "m.gguf")
    assert joined.read_bytes() == source.read_bytes()
    pieces[1].write_bytes(b"x" + pieces[1].read_bytes()[1:])
    with pytest.raises(SystemExit, match="part2: sha256 differs"):
        join(tmp_path / "gguf", tmp_path / "again.gguf")
