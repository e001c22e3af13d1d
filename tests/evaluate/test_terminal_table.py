"""The evaluate table fits an 80-column terminal (nothing cut with '…'); report.html has all."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from graded_study import graded_study
from rich.console import Console

from replicoder.cli.evaluate import results_table
from replicoder.datasets.bills import sample_study
from replicoder.evaluate.compare import evaluate_models, load_parts
from replicoder.splits import ensure_split
from replicoder.store import Proposal


def _render(result: dict[str, Any]) -> list[str]:
    console = Console(width=80, record=True, force_terminal=False)
    console.print(results_table(result), crop=False)
    return console.export_text().splitlines()


def _fits(lines: list[str]) -> None:
    assert lines and max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert not any("…" in line for line in lines), "\n".join(lines)


def test_single_label_table_with_crowd_and_paired_column_fits_80(tmp_path: Path) -> None:
    st = sample_study(tmp_path / "s")
    ensure_split(st)
    with st.store() as store:
        gold = store.gold()
        ids = sorted(gold)[:600]
        store.add_proposals(
            [Proposal(d, "smol-short", gold[d], "ok", "", {}, "t") for d in ids]
            + [Proposal(d, "smol-default", frozenset({"3"}), "ok", "", {}, "t") for d in ids])
    result = evaluate_models(st, [], annotators=True, n_boot=20)
    lines = _render(result)
    _fits(lines)
    text = "\n".join(lines)
    for name in ("smol-short", "smol-default", "crowd-majority", "crowd-union", "tfidf"):
        assert name in text
    assert "vs tfidf" in text and "report.html" in text
    accuracy = result["models"]["tfidf"]["parts"]["test"]["subset_accuracy"]
    assert f"{accuracy:.3f}" in text
    html = (Path(result["run_dir"]) / "report.html").read_text("utf-8")
    assert "Hamming" in html  # the full table, every metric, stays in the report


def test_graded_table_with_long_names_fits_80(tmp_path: Path) -> None:
    st = graded_study(tmp_path / "g")
    test = load_parts(st, ["test"])["test"]
    path = tmp_path / "p.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "labels"])
        for doc, truth in zip(test.doc_ids, test.truth, strict=True):
            w.writerow([doc, ";".join(sorted(truth))])
    files = {"LLaMA-2 70B fine-tuned": path, "GPT-4 zero-shot": path}
    result = evaluate_models(st, [], baseline="tfidf", external=files, n_boot=20)
    lines = _render(result)
    _fits(lines)
    assert "accI" in "\n".join(lines)
