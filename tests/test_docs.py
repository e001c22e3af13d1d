"""The documentation: the README stays short, every package and command has a reference
page generated from the code, the docs' Python uses public names, CITATION.cff is valid.

`mkdocs build --strict` (in scripts/test.sh) checks links, pages and references.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml
from paths import TESTS
from test_public_api import PACKAGES

from replicoder.cli.reference import commands, markdown

ROOT = TESTS.parent
DOCS = ROOT / "docs"


def test_readme_is_short_and_links_into_the_docs() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.splitlines()) <= 150
    assert "bash scripts/setup.sh && .venv/bin/replicoder demo" in readme
    assert "bash scripts/test.sh" in readme and "mkdocs serve" in readme
    for link in re.findall(r"\]\(((?:docs|bench)/[^)#]+)", readme):
        assert (ROOT / link).is_file(), link


def test_every_package_has_an_api_page_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text("utf-8")
    for package in PACKAGES:
        page = "replicoder" if package == "replicoder" else package.split(".")[1]
        path = DOCS / "reference" / "api" / f"{page}.md"
        assert path.is_file(), package
        body = path.read_text("utf-8")
        assert f"::: {package}\n" in body or "<!-- top-level-api -->" in body, package
        assert f"reference/api/{page}.md" in nav, package


def test_cli_reference_covers_every_command_and_option() -> None:
    text = markdown()
    found = commands()
    assert len(found) > 20
    for path, cmd in found:
        assert f"## {path} {{#" in text, path
        for param in cmd.params:
            if getattr(param, "hidden", False) or not param.opts[0].startswith("-"):
                continue
            assert f"`{param.opts[0]}`" in text, f"{path} {param.opts[0]}"
    assert "`--params`" in text and "replicoder review sample" in text
    assert "<!-- cli-reference -->" in (DOCS / "reference" / "cli.md").read_text("utf-8")


def test_docs_python_uses_only_public_names() -> None:
    used: set[str] = set()
    for page in DOCS.rglob("*.md"):
        used |= set(re.findall(r"replicoder(?:\.[A-Za-z_]\w*)+(?=\()", page.read_text("utf-8")))
    assert used
    for path in sorted(used):
        *owner, name = path.split(".")
        assert len(owner) <= 2, f"{path}: reach in through a package's public names"
        module = importlib.import_module(".".join(owner))
        assert name in module.__all__, f"{path} is not in {'.'.join(owner)}.__all__"


def test_citation_file() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text("utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["message"] and cff["title"] and cff["authors"] and cff["type"] == "software"
    paper = cff["references"][0]
    assert paper["type"] == "article" and paper["year"] == 2024
    assert [a["family-names"] for a in paper["authors"]] == ["Carammia", "Iacus", "Porro"]
    assert "2411.00890" in paper["identifiers"][0]["value"]
    assert "2411.00890" in (DOCS / "cite.md").read_text("utf-8")


def test_benchmarks_live_in_bench_readme() -> None:
    bench = (ROOT / "bench" / "README.md").read_text("utf-8")
    assert "<!-- bench-index -->" in bench and "Recipe experiments" in bench
    assert "<!-- bench-index -->" not in (ROOT / "README.md").read_text("utf-8")
    assert Path(DOCS / "hooks.py").read_text("utf-8").count("bench") >= 1
