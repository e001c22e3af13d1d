"""The manifest every review command records: study, codebook and database state, versions."""

from __future__ import annotations

from typing import Any

from replicoder.manifest import versions
from replicoder.study import Study


def base_manifest(study: Study) -> dict[str, Any]:
    """Codebook hash, study seed and package versions (no secrets, no absolute home paths)."""
    return {
        "study": study.config.get("study", {}).get("name", study.root.name),
        "codebook_sha256": study.codebook.sha256,
        "seed": study.seed,
        "versions": versions(),
    }
