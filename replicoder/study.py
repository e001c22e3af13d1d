"""A study is one folder: settings, codebook, database, models and runs."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from replicoder import atomic
from replicoder import codebook as cb
from replicoder.errors import ReplicoderError
from replicoder.store import Store

__all__ = ["CODEBOOK", "CONFIG", "DATABASE", "Study", "init", "open_study"]

CONFIG = "replicoder.toml"
CODEBOOK = "codebook.yaml"
DATABASE = "study.db"


@dataclass
class Study:
    """An open study folder. Use :func:`init` to create one and :func:`open_study` to open it."""

    root: Path
    config: dict[str, Any]
    codebook: cb.Codebook

    @property
    def db_path(self) -> Path:
        return self.root / DATABASE

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def store(self) -> Store:
        """A new connection to study.db (one per thread)."""
        return Store(self.db_path)

    def save_config(self) -> None:
        atomic.write_text(self.root / CONFIG, tomli_w.dumps(self.config))

    @property
    def seed(self) -> int:
        return int(self.config.get("study", {}).get("seed", 0))


def init(
    root: Path, codebook: str | Path = "cap", *, multi_label: bool | None = None, seed: int = 0
) -> Study:
    """Create a study folder with replicoder.toml, codebook.yaml and an empty study.db."""
    root = Path(root)
    if (root / CONFIG).exists():
        raise ReplicoderError(f"{root} is already a study ({CONFIG} exists); use it with --study")
    book = cb.load(codebook)
    if multi_label is not None and multi_label != book.multi_label:
        book = book.with_multi_label(multi_label)
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_text(root / CODEBOOK, book.to_yaml())
    config: dict[str, Any] = {
        "study": {
            "name": root.resolve().name,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "codebook": CODEBOOK,
            "seed": seed,
        },
        "model": {"base": "embedded"},
    }
    with Store(root / DATABASE):
        pass
    study = Study(root=root, config=config, codebook=book)
    study.save_config()
    return study


def open_study(root: Path | str = ".") -> Study:
    """Open an existing study; a clear error if ``root`` is not one."""
    root = Path(root)
    config_path = root / CONFIG
    if not config_path.is_file():
        raise ReplicoderError(
            f"{root.resolve()} is not a replicoder study (no {CONFIG}). "
            f"Create one with `replicoder init DIR`, or point to one with --study DIR."
        )
    try:
        config = tomllib.loads(config_path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ReplicoderError(f"{config_path}: not valid TOML: {exc}") from exc
    book_path = root / str(config.get("study", {}).get("codebook", CODEBOOK))
    return Study(root=root, config=config, codebook=cb.load(book_path))
