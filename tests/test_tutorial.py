"""The tutorial's commands run as written (docs/tutorial.md), on the tiny model.

Each shell command of the tutorial is run in order in a fresh folder (in this process
through the Typer app, or in bash where it uses the shell). The few changes
that make it fast are listed in TINY below (a tiny random model instead of the embedded
one, one epoch on 64 titles); the review app's interactive steps are replaced by what a
coder's decisions store. A command added to or changed in the tutorial without a matching
entry here fails the test, so the tutorial cannot drift from the tool.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from paths import TESTS
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.cli import app
from replicoder.models.tiny import build_tiny
from replicoder.review import session

TUTORIAL = TESTS.parent / "docs" / "tutorial.md"
pytestmark = pytest.mark.timeout(900)

# command as written -> what the test appends or replaces ({tiny}: the tiny model's folder)
TINY = {
    "replicoder add-annotator smol --template short --max-tokens 32":
        "replicoder add-annotator smol --template short --max-tokens 32 --model {tiny}",
    "replicoder train bills --epochs 3 --lr 1e-3 --with-tfidf --template '{text}\\nTopic:'":
        "replicoder train bills --epochs 1 --lr 1e-3 --with-tfidf --template '{{text}}\\nTopic:'"
        " --base {tiny} --train-size 64 --precision fp32",
    "replicoder evaluate bills zero-shot --no-train-rows":
        "replicoder evaluate bills zero-shot:{tiny} --no-train-rows --n-boot 50",
}
INTERACTIVE = "replicoder review --coder anna"  # the app: decisions are stored directly


def commands(text: str) -> list[str]:
    """The shell commands of the tutorial's steps (after its set-up), continuations joined."""
    steps = text.split("## 1.", 1)[1]
    blocks = re.findall(r"```bash\n(.*?)```", steps, flags=re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip()]


def python_block(text: str) -> str:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)[-1]


def _verify_sample(root: Path) -> int:
    """What coders do in the app for the drawn sample: keep each document's true topic."""
    st = study_mod.open_study(root)
    with st.store() as store:
        gold = store.gold()
        sample = store.sample(store.sample_ids()[-1])
        ids = sorted(sample.docs) if sample is not None else []
        for doc_id in ids:
            session.decide(store, st.codebook, "anna", doc_id, [], sorted(gold[doc_id]), False,
                           2.0)
    return len(ids)


def test_the_tutorial_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = TUTORIAL.read_text("utf-8")
    tiny = build_tiny(tmp_path / "tiny")
    cmds = commands(text)
    assert cmds[0] == "replicoder init tutorial --codebook cap"
    assert set(TINY) <= set(cmds), "the tutorial changed: update TINY"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                  f"{os.environ['PATH']}"}
    cwd = tmp_path
    interactive = 0
    for cmd in cmds:
        if cmd.startswith("cd "):
            cwd = cwd / cmd[3:]
            continue
        if cmd == INTERACTIVE:
            interactive += 1
            if interactive == 2:  # the second visit reviews the drawn sample
                assert _verify_sample(cwd) == 60
            continue
        run = TINY.get(cmd, cmd).format(tiny=tiny) if cmd in TINY else cmd
        if "$(" in run:  # shell substitution: run it in bash
            out = subprocess.run(["bash", "-c", run], cwd=cwd, env=env, capture_output=True,
                                 text=True, timeout=600)
            assert out.returncode == 0, f"{run}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
            continue
        args = shlex.split(run)
        assert args[0] == "replicoder", run
        monkeypatch.chdir(cwd)
        result = CliRunner().invoke(app, args[1:], catch_exceptions=False)
        assert result.exit_code == 0, f"{run}\n{result.output[-3000:]}"
    assert interactive == 2
    study = cwd
    assert (study / "models" / "bills" / "manifest.json").is_file()
    assert (study / "coded.parquet").is_file() and (study / "tutorial.tar.gz").is_file()
    shares = list(study.glob("runs/*/shares.csv"))
    assert len(shares) == 1 and "chamber" in shares[0].read_text().splitlines()[0]
    assert list(study.glob("runs/*/report.html"))


def test_the_tutorial_python_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    code = python_block(TUTORIAL.read_text("utf-8"))
    tiny = build_tiny(tmp_path / "tiny")
    fast = code.replace("TrainConfig(epochs=3, lr=1e-3, with_tfidf=True)",
                        f"TrainConfig(epochs=1, lr=1e-3, with_tfidf=True, base={str(tiny)!r}, "
                        "train_size=64, precision='fp32')")
    assert fast != code, "the tutorial's Python changed: update this test"
    monkeypatch.chdir(tmp_path)
    exec(compile(fast, str(TUTORIAL), "exec"), {"__name__": "tutorial"})
    assert (tmp_path / "tutorial-py" / "coded.parquet").is_file()
