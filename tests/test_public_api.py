"""The public API: what each package and module exports, and that the README uses only that."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import replicoder
from replicoder import moved

README = Path(__file__).resolve().parents[1] / "README.md"

PACKAGES = {
    "replicoder": ["Codebook", "ReplicoderError", "Run", "Study", "TrainConfig", "__version__",
                   "agreement_table", "evaluate_models", "import_file", "init",
                   "load_trained", "open_study", "sample_study"],
    "replicoder.annotate": ["AnnotateSummary", "AnnotatorConfig", "AnnotatorSummary",
                            "Parsed", "PlanRow", "add_annotator", "annotate", "agreement_table",
                            "annotate_texts", "load_annotators", "parse_answer", "plan"],
    "replicoder.classify": ["JOB", "ClassifyResult", "ClassifyStopped", "classify", "load_model",
                            "score_texts"],
    "replicoder.datasets": ["SAMPLE", "recipe", "replay", "sample_path", "sample_study"],
    "replicoder.estimate": ["EstimateResult", "PlanResult", "Population", "RegressResult",
                            "Share", "Shares", "estimate", "estimate_shares", "plan",
                            "poststratify", "regress", "share_table"],
    "replicoder.evaluate": ["BASELINES", "CROWD", "SETTINGS", "ZERO_SHOT", "EvalDocs",
                            "ExternalSpec", "answered", "baseline_source", "crowd_sources",
                            "evaluate_models", "external_source", "learning_curve", "load_parts",
                            "model_source",
                            "predictions_parquet", "score", "write_run"],
    "replicoder.importer": ["EmptyLabels", "EmptyTexts", "ImportOptions", "ImportResult",
                            "LabelsFormat", "UnknownLabels", "import_file"],
    "replicoder.io": ["Table", "assemble", "check_output", "detect_format", "documents",
                      "open_table", "read_table", "write_part"],
    "replicoder.labels": ["BUILTIN", "GRADE_SEP", "Codebook", "Label", "Parsed", "parse_answer"],
    "replicoder.metrics": ["HEADLINE", "bootstrap_ci", "check_sizes", "evaluate", "headline",
                           "indicator", "per_document", "per_label", "resample_counts"],
    "replicoder.models": ["EMBEDDED", "BaseModel", "Generated", "ModelFolder", "TrainedModel",
                          "choose", "embedded_gguf", "find_adapter", "generate",
                          "load_causal_lm", "load_sequence_classifier", "load_tokenizer",
                          "load_trained", "pick_device", "resolve", "trained_names",
                          "zero_shot"],
    "replicoder.replicate": ["FreezeResult", "ReproduceResult", "freeze", "reproduce"],
    "replicoder.review": ["acceptance_data", "acceptance_rates", "adjudicate", "assign",
                          "coder_agreement", "disagreements", "export_verified",
                          "import_proposals", "parse_coders", "serve"],
    "replicoder.serve": ["Engine", "create_app", "load_engine", "serve"],
    "replicoder.store": ["Document", "Proposal", "Store", "StoredSample"],
    "replicoder.train": ["TrainConfig", "TrainResult", "TrainingStopped", "train"],
    "replicoder.cli": ["app", "main"],
}
# Packages that only hold data files (YAML, CSV, templates): nothing to export.
RESOURCES = {"replicoder.codebooks", "replicoder.data", "replicoder.templates"}


def public_modules() -> list[str]:
    """Every module of the library but the CLI's (a thin layer: its names are commands)."""
    found = pkgutil.walk_packages(replicoder.__path__, "replicoder.")
    return sorted(m.name for m in found if not m.name.startswith("replicoder.cli")
                  and m.name not in RESOURCES and m.name != "replicoder.__main__")


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_each_package_exports_exactly_its_public_names(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(PACKAGES[name])
    assert len(set(module.__all__)) == len(module.__all__)
    for export in module.__all__:
        assert getattr(module, export) is not None, f"{name}.{export}"


@pytest.mark.parametrize("name", public_modules())
def test_each_module_lists_names_that_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, name
    for export in module.__all__:
        assert hasattr(module, export), f"{name}.{export}"


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
            "replicoder.annotate, replicoder.labels, replicoder.io, replicoder.metrics, "
            "replicoder.estimate; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("old", sorted(moved.MOVED))
def test_old_flat_paths_answer_with_the_moved_module(old: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match="moved to"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(moved.MOVED[old])
    assert module.__spec__ is not None and module.__spec__.name == moved.MOVED[old]


def test_no_package_export_hides_a_submodule() -> None:
    """``import replicoder.P.M as m`` must give the module, not a function of the same name."""
    for name in PACKAGES:
        package = importlib.import_module(name)
        path = getattr(package, "__path__", None)
        if path is None:
            continue
        submodules = {m.name for m in pkgutil.iter_modules(path)}
        assert not submodules & set(package.__all__), name
