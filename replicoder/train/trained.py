"""A trained model folder (models/NAME) loaded back for prediction."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.models.loading import (
    load_causal_lm,
    load_sequence_classifier,
    load_tokenizer,
    resolve,
    weights_sha256,
)
from replicoder.predictions import Predictions
from replicoder.study import Study
from replicoder.train.classifier import ClassifierScorer
from replicoder.train.config import TrainConfig
from replicoder.train.device import choose, quiet
from replicoder.train.generative import GenerativeScorer
from replicoder.train.scoring import decide

ADAPTER = "adapter"
LABEL_MAP = "label_map.json"
THRESHOLDS = "thresholds.json"
METRICS = "metrics.json"
MANIFEST = "manifest.json"
CONFIG = "config.json"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def model_dir(study: Study, name: str) -> Path:
    if not NAME.match(name):
        raise ReplicoderError(
            f"model name {name!r}: use letters, digits, '_', '-' and '.', starting with a "
            "letter or digit"
        )
    return study.models_dir / name


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReplicoderError(f"{path}: cannot read ({exc}); train the model again") from exc


@dataclass
class TrainedModel:
    """A fine-tuned model ready to predict; ``manifest`` says how it was made."""

    name: str
    folder: Path
    config: TrainConfig
    manifest: dict[str, Any]
    codes: list[str]
    multi_label: bool
    thresholds: np.ndarray | None
    scorer: ClassifierScorer | GenerativeScorer
    loaded_sha256: str = ""  # hash of the adapter files read at load time

    @property
    def adapter_sha256(self) -> str:
        """The hash of the weights actually loaded (the manifest's may be stale)."""
        return self.loaded_sha256 or str(self.manifest.get("adapter_sha256", ""))

    def predict(self, texts: list[str], doc_ids: list[str], batch_size: int = 32
                ) -> Predictions:
        """Labels and scores (n, n_labels) in codebook order. Generative models give
        0/1 scores (the codes they wrote)."""
        if len(texts) != len(doc_ids):
            raise ValueError("texts and doc_ids differ in length")
        provenance: dict[str, Any] = {"model": self.name, "adapter_sha256": self.adapter_sha256,
                      "mode": self.config.mode}
        if isinstance(self.scorer, ClassifierScorer):
            scores = self.scorer.scores(texts, batch_size)
            labels = decide(scores, self.codes, self.multi_label, self.thresholds)
        else:
            labels, scores, raw = self.scorer.predict(texts, batch_size)
            provenance["raw_answers"] = raw
        return Predictions(self.name, list(doc_ids), labels, list(self.codes), scores,
                           provenance)


def load_trained(study: Study, name: str, *, device: str | None = None) -> TrainedModel:
    """Load models/NAME (base weights + LoRA adapter) on cuda if present, else the CPU."""
    from peft import PeftModel

    folder = model_dir(study, name)
    if not (folder / MANIFEST).is_file():
        known = sorted(p.name for p in study.models_dir.glob("*/") if (p / MANIFEST).is_file())
        hint = f"trained models: {', '.join(known)}" if known else "no model is trained yet"
        raise ReplicoderError(
            f"unknown model {name!r} in {study.models_dir} ({hint}); train one with "
            "`replicoder train NAME`"
        )
    manifest = _read_json(folder / MANIFEST)
    config = TrainConfig.from_dict(_read_json(folder / CONFIG))
    label_map = _read_json(folder / LABEL_MAP)
    codes = [str(c) for c in label_map["codes"]]
    multi = bool(label_map["multi_label"])
    thresholds = None
    if (folder / THRESHOLDS).is_file():
        by_code = _read_json(folder / THRESHOLDS)
        thresholds = np.array([float(by_code[c]) for c in codes])
    quiet()
    base = resolve(config.base)
    if base.sha256 and manifest["base"]["sha256"] and base.sha256 != manifest["base"]["sha256"]:
        raise ReplicoderError(
            f"model {name!r} was trained on base weights {manifest['base']['sha256'][:12]}, "
            f"but {config.base!r} now has {base.sha256[:12]}; restore the base model or retrain"
        )
    dev, bf16 = choose(device, config.precision)
    loaded_sha256 = weights_sha256(folder / ADAPTER)
    tok = load_tokenizer(base)
    scorer: ClassifierScorer | GenerativeScorer
    if config.mode == "classifier":
        tok.padding_side = "right"
        body = load_sequence_classifier(base, len(codes), multi_label=multi, device=dev)
        model = PeftModel.from_pretrained(body, str(folder / ADAPTER)).to(dev).eval()
        scorer = ClassifierScorer(model, tok, multi, config.max_length, dev, bf16)
    else:
        model = PeftModel.from_pretrained(load_causal_lm(base, device=dev),
                                          str(folder / ADAPTER)).to(dev).eval()
        scorer = GenerativeScorer(model, tok, study.codebook, label_map["instruction"],
                                  config.max_length, int(label_map["max_new_tokens"]), dev,
                                  bf16)
        if study.codebook.codes != codes:
            raise ReplicoderError(f"model {name!r} was trained with another codebook")
    return TrainedModel(name, folder, config, manifest, codes, multi, thresholds, scorer,
                        loaded_sha256)


def zero_shot(study: Study, base_name: str = "embedded", *, device: str | None = None,
              max_length: int = 64) -> GenerativeScorer:
    """The base model prompted with the codebook, never fine-tuned: a floor to beat."""
    from replicoder.train.generative import max_answer_tokens, zero_shot_instruction

    quiet()
    base = resolve(base_name)
    dev, bf16 = choose(device, "auto")
    tok = load_tokenizer(base)
    model = load_causal_lm(base, device=dev).eval()
    return GenerativeScorer(model, tok, study.codebook, zero_shot_instruction(study.codebook),
                            max_length, max_answer_tokens(tok, study.codebook), dev, bf16)
