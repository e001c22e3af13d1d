"""A trained model (models/NAME) loaded back for prediction, and the zero-shot base model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.models.base import load_causal_lm, load_sequence_classifier, load_tokenizer, resolve
from replicoder.models.chunks import Encoded
from replicoder.models.classifier import TEXT, ClassifierScorer
from replicoder.models.decide import PRESENCE, decode, outputs
from replicoder.models.ensemble import Ensemble
from replicoder.models.folder import ModelFolder
from replicoder.models.generative import (
    GenerativeScorer,
    max_answer_tokens,
    zero_shot_instruction,
)
from replicoder.models.runtime import choose, quiet
from replicoder.predictions import Predictions
from replicoder.study import Study

__all__ = ["TrainedModel", "load_trained", "zero_shot"]


@dataclass
class TrainedModel:
    """A fine-tuned model ready to predict; ``manifest`` says how it was made and
    ``settings`` with what training settings; ``adapter_sha256`` is the hash of the
    adapter weights actually loaded."""

    name: str
    folder: Path
    settings: dict[str, Any]
    manifest: dict[str, Any]
    codes: list[str]
    multi_label: bool
    intensities: list[str]
    thresholds: np.ndarray | None
    scorer: ClassifierScorer | GenerativeScorer
    adapter_sha256: str
    ensemble: Ensemble | None = None  # trained with --with-tfidf
    presence: str = "max"  # how a graded head gives label presence (decide.PRESENCE)

    @property
    def mode(self) -> str:
        return str(self.settings["mode"])

    @property
    def base(self) -> str:
        return str(self.settings["base"])

    @property
    def max_length(self) -> int:
        return int(self.scorer.max_length)

    @property
    def long(self) -> str:
        return str(self.settings.get("long", "truncate"))

    @property
    def device(self) -> str:
        return self.scorer.device

    @property
    def bf16(self) -> bool:
        return self.scorer.bf16

    def encode(self, texts: list[str]) -> Encoded | None:
        """Token ids for ``predict(..., encoded=)`` (classifier mode; None otherwise), so
        that a caller can tokenise the next texts while the model scores these."""
        if isinstance(self.scorer, ClassifierScorer):
            return self.scorer.encode_docs(texts)
        return None

    def predict(self, texts: list[str], doc_ids: list[str], batch_size: int = 32,
                encoded: Encoded | None = None) -> Predictions:
        """Labels and scores (n, n_labels) in codebook order. Generative models give
        0/1 scores (the codes they wrote). ``encoded``: ``encode(texts)``, if done.
        ``provenance["cut"]`` says, per document, whether it was longer than the model
        reads (and so cut)."""
        if len(texts) != len(doc_ids):
            raise ValueError("texts and doc_ids differ in length")
        provenance: dict[str, Any] = {"model": self.name, "adapter_sha256": self.adapter_sha256,
                                      "mode": self.mode}
        if isinstance(self.scorer, ClassifierScorer):
            enc = encoded if encoded is not None else self.scorer.encode_docs(texts)
            scores = self.scorer.scores_of(enc, batch_size)
            provenance["cut"] = list(enc.cut)
            if self.ensemble is not None:
                scores = self.ensemble.scores(texts, scores)
                provenance["tfidf_weight"] = self.ensemble.weight
            labels = decode(scores, self.codes, self.intensities, self.multi_label,
                            self.thresholds, self.presence)
        else:
            labels, scores, raw = self.scorer.predict(texts, batch_size)
            provenance["raw_answers"] = raw
            provenance["cut"] = self.scorer.cuts(texts)
        return Predictions(self.name, list(doc_ids), labels, self.outputs, scores, provenance)

    @property
    def outputs(self) -> list[str]:
        """What the score columns are: the codes, or each code:intensity when graded."""
        return outputs(self.codes, self.intensities)


def load_trained(study: Study, name: str, *, device: str | None = None) -> TrainedModel:
    """Load models/NAME (base weights + LoRA adapter) on cuda if present, else the CPU."""
    from peft import PeftModel

    folder = ModelFolder.of(study.models_dir, name).require()
    manifest = folder.manifest()
    settings = folder.settings()
    label_map = folder.label_map()
    codes = [str(c) for c in label_map["codes"]]
    multi = bool(label_map["multi_label"])
    intensities = [str(x) for x in label_map.get("intensities", [])]
    quiet()
    base = resolve(settings["base"])
    trained_on = manifest["base"]["sha256"]
    if base.sha256 and trained_on and base.sha256 != trained_on:
        raise ReplicoderError(
            f"model {name!r} was trained on base weights {trained_on[:12]}, but "
            f"{settings['base']!r} now has {base.sha256[:12]}; restore the base model or retrain"
        )
    dev, bf16 = choose(device, settings.get("precision", "auto"))
    tok = load_tokenizer(base)
    max_length = int(settings["max_length"])
    scorer: ClassifierScorer | GenerativeScorer
    if settings["mode"] == "classifier":
        tok.padding_side = "right"
        body = load_sequence_classifier(base, len(outputs(codes, intensities)),
                                        multi_label=multi, device=dev)
        model = PeftModel.from_pretrained(body, str(folder.adapter)).to(dev).eval()
        scorer = ClassifierScorer(model, tok, multi, max_length, dev, bf16,
                                  str(settings.get("template", TEXT)),
                                  str(settings.get("long", "truncate")))
    else:
        if study.codebook.codes != codes:
            raise ReplicoderError(f"model {name!r} was trained with another codebook")
        model = PeftModel.from_pretrained(load_causal_lm(base, device=dev),
                                          str(folder.adapter)).to(dev).eval()
        scorer = GenerativeScorer(model, tok, study.codebook, label_map["instruction"],
                                  max_length, int(label_map["max_new_tokens"]), dev, bf16)
    return TrainedModel(name, folder.path, settings, manifest, codes, multi, intensities,
                        folder.thresholds(codes), scorer, folder.adapter_sha256(),
                        folder.ensemble(), _presence(name, label_map))


def _presence(name: str, label_map: dict[str, Any]) -> str:
    presence = str(label_map.get("presence", "max"))
    if presence not in PRESENCE:
        raise ReplicoderError(f"model {name!r}: label_map.json gives presence {presence!r}; "
                              f"use one of {', '.join(PRESENCE)}, or retrain the model")
    return presence


def zero_shot(study: Study, base_name: str = "embedded", *, device: str | None = None,
              max_length: int | None = None) -> GenerativeScorer:
    """The base model prompted with the codebook, never fine-tuned: a floor to beat.

    ``max_length``: tokens of a document the prompt holds; None: what the model's context
    leaves after the instruction and the answer (:func:`replicoder.models.prompt_budget.
    document_budget`). A longer document is cut, with a note in the prompt saying so, and
    counted in the predictions' provenance."""
    from replicoder.models.prompt_budget import document_budget

    quiet()
    base = resolve(base_name)
    dev, bf16 = choose(device, "auto")
    tok = load_tokenizer(base)
    model = load_causal_lm(base, device=dev).eval()
    instruction = zero_shot_instruction(study.codebook)
    answer_tokens = max_answer_tokens(tok, study.codebook)
    if max_length is None:
        max_length = document_budget(tok, instruction, answer_tokens,
                                     int(getattr(model.config, "max_position_embeddings",
                                                 2048)))
    return GenerativeScorer(model, tok, study.codebook, instruction, max_length, answer_tokens,
                            dev, bf16, note=True)
