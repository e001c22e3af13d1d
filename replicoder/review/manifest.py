"""The manifest every review command records: study, codebook and database state, versions."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from replicoder.study import Study

PACKAGES = ("replicoder", "fastapi", "starlette", "uvicorn", "jinja2", "pyarrow")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def base_manifest(study: Study) -> dict[str, Any]:
    """Codebook hash, study seed and package versions (no secrets, no absolute home paths)."""
    return {
        "study": study.config.get("study", {}).get("name", study.root.name),
        "codebook_sha256": study.codebook.sha256,
        "seed": study.seed,
        "versions": versions(),
    }
