"""The public API: what each package and module exports, and that the README uses only that."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

PACKAGES = {
    "replicoder": ["Codebook", "ReplicoderError", "Run", "Study", "TrainConfig", "__version__",
                   "agreement_table", "evaluate_models", "import_file", "init",
                   "load_trained", "open_study", "sample_study"],
    "replicoder.annotate": ["AnnotateSummary", "AnnotatorConfig", "AnnotatorSummary",
                            "Parsed", "PlanRow", "add_annotator", "annotate", "annotate_texts",
                            "load_annotators", "parse_answer", "plan"],
    "replicoder.models": ["EMBEDDED", "BaseModel", "Generated", "ModelFolder", "TrainedModel",
                          "choose", "embedded_gguf", "find_adapter", "generate",
                          "load_causal_lm", "load_sequence_classifier", "load_tokenizer",
                          "load_trained", "pick_device", "resolve", "trained_names",
                          "zero_shot"],
    "replicoder.review": ["acceptance_data", "acceptance_rates", "adjudicate", "assign",
                          "coder_agreement", "disagreements", "export_verified",
                          "import_proposals", "parse_coders", "serve"],
    "replicoder.serve": ["Engine", "create_app", "load_engine", "serve"],
    "replicoder.store": ["Document", "Proposal", "Store", "StoredSample"],
    "replicoder.train": ["TrainConfig", "TrainResult", "TrainingStopped", "train"],
    "replicoder.cli": ["app", "main"],
}
MODULES = ["classify", "evaluate", "learning_curve", "metrics", "importer", "study",
           "codebook", "agreement", "aggregate", "baseline", "run", "sample", "hashing",
           "progress", "predictions", "splits", "parse", "freeze", "reproduce", "graded",
           "flourishing", "external", "graded_metrics", "parse_graded", "answer_text", "paired"]


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_each_package_exports_exactly_its_public_names(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(PACKAGES[name])
    assert len(set(module.__all__)) == len(module.__all__)
    for export in module.__all__:
        assert getattr(module, export) is not None, f"{name}.{export}"


@pytest.mark.parametrize("name", MODULES)
def test_each_module_lists_names_that_exist(name: str) -> None:
    module = importlib.import_module(f"replicoder.{name}")
    assert module.__all__, name
    for export in module.__all__:
        assert hasattr(module, export), f"replicoder.{name}.{export}"


def test_readme_python_examples_use_only_public_names() -> None:
    used = set(re.findall(r"replicoder(?:\.[A-Za-z_]\w*)+(?=\()", README.read_text("utf-8")))
    assert used, "the README shows no Python call"
    for path in sorted(used):
        *owner, name = path.split(".")
        assert len(owner) <= 2, f"{path}: reach in through a package's public names"
        module = importlib.import_module(".".join(owner))
        assert name in module.__all__, f"{path} is not in {'.'.join(owner)}.__all__"


def test_importing_the_library_loads_no_torch() -> None:
    code = ("import sys, replicoder, replicoder.models, replicoder.train, replicoder.review, "
            "replicoder.annotate; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
