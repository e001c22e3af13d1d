"""One run record for every command: its id, its manifest and its row in study.db.

A manifest says what a result was made from: the study's codebook hash and seed, package
versions, input and model hashes, settings, paths relative to the study folder, and the
device and precision used. Never secrets.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from replicoder import atomic
from replicoder.store import Store
from replicoder.study import Study

__all__ = ["Run", "now", "versions", "write_json"]

MANIFEST = "manifest.json"
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


def now(precise: bool = False) -> str:
    """The time in UTC, ISO 8601, to the second (``precise``: to the millisecond)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds" if precise else "seconds")


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented, key-sorted JSON."""
    atomic.write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


@dataclass
class Run:
    """A command's run: ``Run.start(study, "classify")``, then ``write(fields)`` once or
    several times (a long job records itself as running, then as done)."""

    study: Study
    kind: str
    run_id: str
    created_at: str
    environment: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, study: Study, kind: str) -> Run:
        stamp = dt.datetime.now(dt.UTC)
        run_id = f"{stamp.strftime('%Y%m%dT%H%M%S')}-{kind}-{secrets.token_hex(2)}"
        return cls(study, kind, run_id, stamp.isoformat(timespec="seconds"))

    @property
    def dir(self) -> Path:
        return self.study.runs_dir / self.run_id

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    def relative(self, path: Path | str) -> str:
        """``path`` relative to the study folder (with ``..`` when outside it)."""
        return Path(os.path.relpath(Path(path).resolve(), self.study.root.resolve())).as_posix()

    def on_device(self, device: str, bf16: bool) -> None:
        """Record where models ran: device, precision, threads, machine."""
        import torch

        self.environment = {"device": device, "precision": "bf16" if bf16 else "fp32",
                            "torch_threads": torch.get_num_threads(),
                            "machine": platform.machine()}

    def manifest(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The shared fields (id, kind, time, study, codebook hash, seed, versions, device)
        with ``fields``."""
        return {
            "run_id": self.run_id, "kind": self.kind, "created_at": self.created_at,
            "study": self.study.config.get("study", {}).get("name", self.study.root.name),
            "codebook_sha256": self.study.codebook.sha256, "seed": self.study.seed,
            "versions": versions(), **self.environment, **fields,
        }

    def write(self, fields: dict[str, Any], *, copies: Sequence[Path] = (),
              store: Store | None = None) -> dict[str, Any]:
        """Write runs/<id>/manifest.json (and ``copies``) atomically; record it in study.db
        (through ``store`` when given, so that it joins a transaction in progress)."""
        manifest = self.manifest(fields)
        for path in (self.manifest_path, *copies):
            write_json(path, manifest)
        if store is not None:
            store.add_run(self.run_id, self.kind, self.created_at, manifest)
        else:
            with self.study.store() as own:
                own.add_run(self.run_id, self.kind, self.created_at, manifest)
        return manifest
