"""Regenerate the documentation's screenshots (docs/img/*.png) with headless Chromium.

    .venv/bin/python scripts/screenshots.py

Builds a small study from the shipped bill titles in a temporary folder, gives a few titles
proposals from two annotators, starts the real `replicoder review` server and photographs
the review app; runs `evaluate` (with two outside predictions files of different sizes, so
that the report draws the size figure) and photographs report.html's figures. Uses the
same Debian Chromium as the browser tests (`bash scripts/browser.sh` installs it).
"""

from __future__ import annotations

import csv
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from replicoder.datasets.bills import sample_study
from replicoder.evaluate.compare import evaluate_models, load_parts
from replicoder.review.security import CoderKeys
from replicoder.review.server import coder_link
from replicoder.splits import ensure_split
from replicoder.store import Proposal

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _study(root: Path) -> object:
    st = sample_study(root / "study")
    ensure_split(st)
    with st.store() as store:
        gold = store.gold()
        ids = sorted(gold, key=int)[:40]
        wrong = {d: "1" if "1" not in gold[d] else "2" for d in ids}
        store.add_proposals(
            [Proposal(d, "gpt", gold[d], "ok", "", {}, "t") for d in ids]
            + [Proposal(d, "llama", gold[d] | {wrong[d]} if i % 2 == 0 else gold[d], "ok", "",
                        {}, "t") for i, d in enumerate(ids)])
    return st


def _predictions(st: object, path: Path, every: int) -> Path:
    parts = load_parts(st, ["train", "test"])  # type: ignore[arg-type]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "labels"])
        for docs in parts.values():
            for i, (doc, truth) in enumerate(zip(docs.doc_ids, docs.truth, strict=True)):
                w.writerow([doc, "1" if i % every == 0 else ";".join(sorted(truth))])
    return path


def _review_server(study: Path) -> tuple[subprocess.Popen[str], str]:
    exe = Path(sys.executable).with_name("replicoder")
    proc = subprocess.Popen([str(exe), "review", "--coder", "anna", "--port", "8799",
                             "--study", str(study)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    match = re.search(r"(http://127\.0\.0\.1:\d+)/", proc.stdout.readline())
    assert match, "the review server printed no URL"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(match.group(1) + "/")
            return proc, match.group(1)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="replicoder-shots-"))
    st = _study(root)
    result = evaluate_models(
        st, [], annotators=True, n_boot=200,  # type: ignore[arg-type]
        external={"L2-7B": _predictions(st, root / "a.csv", 4),
                  "L2-70B": _predictions(st, root / "b.csv", 9)},
        parameters={"L2-7B": 7e9, "L2-70B": 7e10})
    report = Path(result["run_dir"]) / "report.html"
    proc, base = _review_server(st.root)  # type: ignore[attr-defined]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1100, "height": 640})
            page.goto(coder_link(CoderKeys.for_study(st.root), "anna", base))  # type: ignore[attr-defined]
            page.locator("#labels li").first.wait_for()
            page.screenshot(path=str(OUT / "review.png"))
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(report.as_uri())
            page.add_style_tag(content="body{max-width:1340px}")
            for name, shot in (("headline.png", "report-headline.png"),
                               ("size.png", "report-size.png")):
                page.locator(f'img[src="{name}"]').screenshot(path=str(OUT / shot))
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    for path in sorted(OUT.glob("*.png")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
