"""bench/ helpers: bench/README.md's results table matches bench/results/*.json, and a benchmark
without its data stops with a message saying where to get it."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from paths import BILLS, TESTS

ROOT = TESTS.parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


index = _load("index")
data = _load("data")


def test_readme_table_is_generated_from_the_results() -> None:
    readme = (ROOT / "bench" / "README.md").read_text("utf-8")
    assert index.with_table(readme) == readme, \
        "bench/README.md's benchmark table is out of date: run .venv/bin/python bench/index.py"
    results = sorted((ROOT / "bench" / "results").glob("*.json"))
    table = readme.split(index.START)[1].split(index.END)[0]
    assert len(table.strip().splitlines()) == 2 + len(results)
    for path in results:
        assert f"[{path.name}](results/{path.name})" in table
    assert "accuracy 0.800, macro-F1 0.762" in table
    check = subprocess.run([sys.executable, str(ROOT / "bench" / "index.py"), "--check"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_a_changed_or_new_result_changes_the_table(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "bench" / "results", tmp_path, dirs_exist_ok=True)
    readme = f"# x\n\n{index.START}\n{index.END}\nrest\n"
    before = index.with_table(readme, tmp_path)
    review = json.loads((tmp_path / "review.json").read_text())
    review["http_page_ms"] = 999.0
    (tmp_path / "review.json").write_text(json.dumps(review))
    (tmp_path / "other.json").write_text(json.dumps({"speed": {"gpu_over_cpu_ratio": 7.25}}))
    after = index.with_table(readme, tmp_path)
    assert after != before and after.endswith(f"{index.END}\nrest\n")
    assert "page 999 ms" in after and "page 51 ms" in before
    assert "| [other.json](results/other.json) |" in after
    assert "speed.gpu_over_cpu_ratio 7.25" in after
    with pytest.raises(SystemExit, match="needs one <!-- bench-index --> line"):
        index.with_table("# no markers\n", tmp_path)


def test_missing_benchmark_data_says_where_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv(data.ENV, str(BILLS))
    assert data.bills_path() == BILLS
    missing = tmp_path / "bills.csv.gz"
    monkeypatch.setenv(data.ENV, str(missing))
    with pytest.raises(SystemExit) as err:
        data.bills_path()
    message = str(err.value)
    assert f"REPLICODER_BENCH_DATA={missing}" in message
    assert "RTextTools" in message and "Congressional Bills Project" in message
    assert str(data.BESIDE) in message and data.BESIDE.parts[-3:] == (
        "shared", "data", "us_congress_bills.csv.gz")
    # a real benchmark stops before measuring anything or writing its results
    results = ROOT / "bench" / "results" / "baseline.json"
    before = results.read_bytes()
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_baseline.py")],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, data.ENV: str(missing)})
    assert run.returncode == 1
    assert "benchmark data not found" in run.stderr and "Traceback" not in run.stderr
    assert results.read_bytes() == before
