"""No model load runs code that came with the weights (issue 25, item 2): every transformers
load passes trust_remote_code=False, and a folder whose config names its own modeling code
is refused without running it (and without asking in a terminal)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import replicoder
from replicoder.errors import ReplicoderError
from replicoder.models.base import load_causal_lm, load_tokenizer, resolve
from replicoder.models.tiny import build_tiny

PACKAGE = Path(replicoder.__file__).parent
LOADERS = ("AutoTokenizer", "AutoConfig", "AutoModel", "AutoModelForCausalLM",
           "AutoModelForSequenceClassification", "AutoProcessor")


def _loads(tree: ast.AST) -> list[ast.Call]:
    """Calls of Auto*.from_pretrained and transformers' pipeline(...)."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "from_pretrained" and (
                isinstance(func.value, ast.Name) and func.value.id in LOADERS):
            out.append(node)
        elif isinstance(func, ast.Name) and func.id == "pipeline":
            out.append(node)
    return out


def test_every_transformers_load_passes_trust_remote_code_false() -> None:
    calls, missing = 0, []
    for path in sorted(PACKAGE.rglob("*.py")):
        for call in _loads(ast.parse(path.read_text("utf-8"))):
            calls += 1
            given = {k.arg: k.value for k in call.keywords}
            value = given.get("trust_remote_code")
            if not (isinstance(value, ast.Constant) and value.value is False):
                missing.append(f"{path.relative_to(PACKAGE)}:{call.lineno}")
    assert calls >= 5 and not missing, missing


@pytest.fixture
def custom_code_model(tmp_path: Path) -> tuple[Path, Path]:
    """A real tiny model folder whose config asks for its own modeling code, which would
    leave a marker file if it ever ran."""
    folder = build_tiny(tmp_path / "custom")
    marker = tmp_path / "code-ran"
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_evil.EvilConfig",
                          "AutoModelForCausalLM": "modeling_evil.EvilModel"}
    config["model_type"] = "evil-custom"
    (folder / "config.json").write_text(json.dumps(config))
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    tok_config["auto_map"] = {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_config))
    code = f"from pathlib import Path\nPath({str(marker)!r}).touch()\n"
    for name in ("modeling_evil.py", "configuration_evil.py", "tokenization_evil.py"):
        (folder / name).write_text(code)
    return folder, marker


def test_a_folder_with_custom_code_is_refused_without_running_it(
        custom_code_model: tuple[Path, Path]) -> None:
    folder, marker = custom_code_model
    base = resolve(str(folder))
    with pytest.raises(ReplicoderError, match="cannot load model"):
        load_causal_lm(base, device="cpu")
    try:  # transformers may fall back to tokenizer.json; it must never import the code
        load_tokenizer(base)
    except ReplicoderError as exc:
        assert "cannot load model" in str(exc)
    assert not marker.exists()
