"""The models/NAME folder of a trained model: the only code that knows its layout.

```
models/NAME/
  adapter/          peft LoRA adapter (and the classification head)
  label_map.json    mode, codes, names, multi_label, instruction, max_new_tokens
  thresholds.json   per-label thresholds (multi-label classifier)
  tfidf.npz         TF-IDF + SVM arrays (train --with-tfidf; never a pickle)
  ensemble.json     its weight and the sha256 of tfidf.npz
  metrics.json      validation metrics and history
  config.json       the training settings
  manifest.json     how it was made (written last: a folder without it is unfinished)
  checkpoint/       an interrupted training run, removed when training ends
```
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.hashing import file_sha256, weights_sha256
from replicoder.run import write_json

if TYPE_CHECKING:
    from replicoder.models.ensemble import Ensemble

__all__ = ["ModelFolder", "find_adapter", "trained_names"]

ADAPTER = "adapter"
LABEL_MAP = "label_map.json"
THRESHOLDS = "thresholds.json"
METRICS = "metrics.json"
CONFIG = "config.json"
MANIFEST = "manifest.json"
CHECKPOINT = "checkpoint"
TFIDF = "tfidf.npz"
ENSEMBLE = "ensemble.json"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a model folder; a clear error if it is unreadable."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReplicoderError(f"{path}: cannot read ({exc}); train the model again") from exc
    if not isinstance(data, dict):
        raise ReplicoderError(f"{path}: expected a JSON object; train the model again")
    return data


def trained_names(models_dir: Path) -> list[str]:
    """Names of the finished models in a study's models/ folder."""
    return sorted(p.parent.name for p in models_dir.glob(f"*/{MANIFEST}"))


def _sort_module_sets(model: Any) -> None:
    """peft keeps ``target_modules`` as a set and writes it in the set's order, which
    follows the process's string hash seed: the same weights then got another
    adapter_config.json and adapter sha256 in each run. Sorted, they get the same."""
    for config in getattr(model, "peft_config", {}).values():
        for key in ("target_modules", "modules_to_save"):
            value = getattr(config, key, None)
            if isinstance(value, set):
                setattr(config, key, sorted(value))


@dataclass(frozen=True)
class ModelFolder:
    """models/NAME. ``ModelFolder.of(study.models_dir, name)`` checks the name."""

    path: Path

    @classmethod
    def of(cls, models_dir: Path, name: str) -> ModelFolder:
        if not NAME.match(name):
            raise ReplicoderError(
                f"model name {name!r}: use letters, digits, '_', '-' and '.', starting with a "
                "letter or digit"
            )
        return cls(models_dir / name)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def adapter(self) -> Path:
        return self.path / ADAPTER

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def finished(self) -> bool:
        return self.manifest_path.is_file()

    def require(self) -> ModelFolder:
        """Itself if training finished; else an error listing the trained models."""
        if not self.finished:
            known = trained_names(self.path.parent)
            hint = f"trained models: {', '.join(known)}" if known else "no model is trained yet"
            raise ReplicoderError(
                f"unknown model {self.name!r} in {self.path.parent} ({hint}); train one with "
                "`replicoder train NAME`"
            )
        return self

    def manifest(self) -> dict[str, Any]:
        return read_json(self.manifest_path)

    def settings(self) -> dict[str, Any]:
        return read_json(self.path / CONFIG)

    def update_settings(self, **changes: Any) -> None:
        """Rewrite config.json with ``changes`` (e.g. a reproduced study's own base path)."""
        settings = self.settings()
        if any(settings.get(k) != v for k, v in changes.items()):
            write_json(self.path / CONFIG, {**settings, **changes})

    def label_map(self) -> dict[str, Any]:
        return read_json(self.path / LABEL_MAP)

    def thresholds(self, codes: list[str]) -> np.ndarray | None:
        path = self.path / THRESHOLDS
        if not path.is_file():
            return None
        by_code = read_json(path)
        return np.array([float(by_code[c]) for c in codes])

    def adapter_sha256(self) -> str:
        """Hash of the adapter weights as they are on disk now."""
        return weights_sha256(self.adapter)

    def save(self, model: Any, *, label_map: dict[str, Any], settings: dict[str, Any],
             metrics: dict[str, Any], thresholds: dict[str, float] | None) -> str:
        """Write everything but the manifest; returns the adapter's sha256."""
        shutil.rmtree(self.adapter, ignore_errors=True)
        _sort_module_sets(model)
        model.save_pretrained(str(self.adapter))
        write_json(self.path / LABEL_MAP, label_map)
        if thresholds is not None:
            write_json(self.path / THRESHOLDS, thresholds)
        write_json(self.path / METRICS, metrics)
        write_json(self.path / CONFIG, settings)
        return self.adapter_sha256()

    def save_ensemble(self, ensemble: Ensemble) -> str:
        """Write the TF-IDF part and its weight; returns the sha256 of tfidf.npz."""
        ensemble.tfidf.save(self.path / TFIDF)
        sha = file_sha256(self.path / TFIDF)
        write_json(self.path / ENSEMBLE, {"weight": ensemble.weight, "tfidf_sha256": sha,
                                          "tfidf": ensemble.tfidf.params()})
        return sha

    def ensemble(self) -> Ensemble | None:
        """The TF-IDF part saved with the model (None if trained without --with-tfidf);
        an error if tfidf.npz is not the file training wrote."""
        if not (self.path / ENSEMBLE).is_file():
            return None
        from replicoder.models.ensemble import Ensemble
        from replicoder.models.tfidf import TfidfSvm

        meta = read_json(self.path / ENSEMBLE)
        path = self.path / TFIDF
        if not path.is_file() or file_sha256(path) != meta.get("tfidf_sha256"):
            raise ReplicoderError(f"{path}: missing or not the file training wrote (sha256 "
                                  f"differs from {ENSEMBLE}); train the model again")
        return Ensemble(TfidfSvm.load(path), float(meta["weight"]))

    def finish(self, manifest: dict[str, Any]) -> None:
        """Write the manifest (the folder is then a finished model) and drop the checkpoint."""
        write_json(self.manifest_path, manifest)
        shutil.rmtree(self.checkpoint, ignore_errors=True)


def find_adapter(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The peft adapter inside ``folder`` (itself, or a model folder's adapter/) and what
    the model folder's label_map.json says (``{}`` if none).

    A clear error unless it is a generator (causal LM) LoRA.
    """
    if not folder.is_dir():
        raise ReplicoderError(f"adapter {folder}: no such folder; give a peft adapter folder "
                              "or a replicoder model folder (models/NAME)")
    label_map: dict[str, Any] = {}
    adapter = folder
    if not (folder / "adapter_config.json").is_file() and (folder / ADAPTER).is_dir():
        adapter = folder / ADAPTER
        if (folder / LABEL_MAP).is_file():
            label_map = read_json(folder / LABEL_MAP)
    config_path = adapter / "adapter_config.json"
    if not config_path.is_file():
        raise ReplicoderError(
            f"adapter {folder}: no adapter_config.json; give a folder saved by peft "
            "or a replicoder model folder (models/NAME)"
        )
    config = read_json(config_path)
    if config.get("task_type") == "SEQ_CLS" or label_map.get("mode") == "classifier":
        raise ReplicoderError(
            f"adapter {folder} is a classifier (task_type SEQ_CLS) and cannot chat; serve a "
            "generator adapter (task_type CAUSAL_LM, `replicoder train --mode generative`), "
            "or use `replicoder classify`"
        )
    return adapter, label_map

