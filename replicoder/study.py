"""A study is one folder: settings, codebook, database, models and runs."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.labels import codebook as cb
from replicoder.store import Store

__all__ = ["CODEBOOK", "CONFIG", "DATABASE", "TEST_FRACTION", "VALIDATION_FRACTION", "Study",
           "check_fractions", "init", "open_study"]

CONFIG = "replicoder.toml"
CODEBOOK = "codebook.yaml"
DATABASE = "study.db"
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1


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

    @property
    def split_fractions(self) -> tuple[float, float]:
        """(test, validation) shares of the labelled documents for a new split."""
        split = self.config.get("split", {})
        return check_fractions(float(split.get("test", TEST_FRACTION)),
                               float(split.get("validation", VALIDATION_FRACTION)))


def check_fractions(test: float, validation: float) -> tuple[float, float]:
    """(test, validation) when both are above 0 and leave at least half for training."""
    if not (0 < test < 1 and 0 < validation < 1 and test + validation <= 0.5):
        raise ReplicoderError(
            f"split fractions test={test}, validation={validation}: each must be above 0 and "
            "together at most 0.5, so that at least half of the labelled documents train"
        )
    return test, validation


def init(
    root: Path, codebook: str | Path = "cap", *, multi_label: bool | None = None, seed: int = 0,
    test_fraction: float = TEST_FRACTION, validation_fraction: float = VALIDATION_FRACTION,
) -> Study:
    """Create a study folder with replicoder.toml, codebook.yaml and an empty study.db.

    ``test_fraction`` and ``validation_fraction``: the shares of the labelled documents
    the study's split (made once, at the first training or evaluation) keeps for them.
    """
    root = Path(root)
    check_fractions(test_fraction, validation_fraction)
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
        "split": {"test": test_fraction, "validation": validation_fraction},
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
