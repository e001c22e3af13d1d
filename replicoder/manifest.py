"""Run manifests: what a result was made from (hashes, seeds, versions), never secrets."""

from __future__ import annotations

import datetime as dt
import json
import platform
import secrets
from importlib import metadata
from pathlib import Path
from typing import Any

from replicoder import atomic
from replicoder.study import Study

PACKAGES = ("replicoder", "torch", "transformers", "peft", "accelerate", "scikit-learn",
            "numpy", "pandas", "pyarrow", "openai", "fastapi", "starlette", "uvicorn", "jinja2")


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Python's and each package's version ("not installed" where absent)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_run_id(kind: str) -> str:
    """A sortable, unique run id such as ``20261125T181500-evaluate-3f9a``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{kind}-{secrets.token_hex(2)}"


def base_manifest(study: Study, kind: str) -> dict[str, Any]:
    """The fields every manifest carries: study, codebook hash, seed, versions, time."""
    return {
        "kind": kind,
        "created_at": now(),
        "study": study.config.get("study", {}).get("name", study.root.name),
        "codebook_sha256": study.codebook.sha256,
        "seed": study.seed,
        "versions": versions(),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically write ``data`` as indented, key-sorted JSON."""
    atomic.write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
