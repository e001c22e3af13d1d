"""The import graph between the library's packages and top-level modules has no cycle.

Every import counts, also those inside functions (a lazy import still runs back up a layer).
Nodes are the packages (``replicoder.review``) and the top-level modules
(``replicoder.study``); the CLI and ``moved`` (old paths) are left out, being above everything.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "replicoder"
ABOVE = {"replicoder.cli", "replicoder.moved", "replicoder.__main__", "replicoder"}


def node(module: str) -> str:
    """The package or top-level module that ``module`` belongs to."""
    return ".".join(module.split(".")[:2])


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for item in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(item, ast.ImportFrom) and item.module and item.level == 0:
            if item.module == "replicoder":
                found |= {f"replicoder.{a.name}" for a in item.names}
            elif item.module.startswith("replicoder."):
                found.add(item.module)
        elif isinstance(item, ast.Import):
            found |= {a.name for a in item.names if a.name.startswith("replicoder.")}
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        source = node(".".join(p for p in parts if p != "__init__"))
        if source in ABOVE:
            continue
        targets = {node(m) for m in imported(path)} - ABOVE - {source}
        edges.setdefault(source, set()).update(targets)
    return edges


def test_no_import_cycle_between_packages() -> None:
    edges = graph()
    assert "replicoder.review" in edges and "replicoder.study" in edges
    try:
        order = list(TopologicalSorter(edges).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from exc
    assert order.index("replicoder.errors") < order.index("replicoder.labels")


def test_pure_packages_import_no_stage() -> None:
    """labels, metrics and io sit below every stage: they never import one."""
    stages = {"replicoder.annotate", "replicoder.review", "replicoder.train",
              "replicoder.evaluate", "replicoder.classify", "replicoder.estimate",
              "replicoder.replicate", "replicoder.datasets", "replicoder.serve"}
    edges = graph()
    for low in ("replicoder.labels", "replicoder.metrics", "replicoder.io"):
        assert not edges[low] & stages, f"{low} imports {edges[low] & stages}"
