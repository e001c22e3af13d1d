"""A trained model (models/NAME) loaded back for prediction, and the zero-shot base model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.models import quant
from replicoder.models.adapter_check import warn_adapter
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
from replicoder.models.label_scores import Variant
from replicoder.models.runtime import choose, quiet
from replicoder.models.scored import ZERO_SHOT_PROMPT, ZERO_SHOT_VARIANT, ZeroShotScorer
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
    quantization: dict[str, Any] | None = None  # the 4-bit base it runs on (models.quant)
    merged: bool = False  # adapter merged into the base weights (inference.load_model)

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
            return self.scorer.encode(texts)
        return None

    def predict(self, texts: list[str], doc_ids: list[str], batch_size: int = 32,
                encoded: Encoded | None = None) -> Predictions:
        """Labels and scores (n, n_labels) in codebook order. Generative models give
        0/1 scores (the codes they wrote). ``encoded``: ``encode(texts)``, if done.
        ``provenance["cut"]`` says, per document, whether it was longer than the model
        reads (and so cut)."""
        if len(texts) != len(doc_ids):
            raise ValueError("texts and doc_ids differ in length")
        if isinstance(self.scorer, ClassifierScorer):
            enc = encoded if encoded is not None else self.scorer.encode(texts)
            return self.decide(texts, doc_ids, self.scorer.scores_of(enc, batch_size), enc.cut)
        labels, gen_scores, raw = self.scorer.predict(texts, batch_size)
        provenance = {**self._provenance(), "raw_answers": raw,
                      "cut": self.scorer.cuts(texts)}
        return Predictions(self.name, list(doc_ids), labels, self.outputs, gen_scores,
                           provenance)

    def decide(self, texts: list[str], doc_ids: list[str], scores: np.ndarray,
               cut: list[bool] | None = None) -> Predictions:
        """Labels from a classifier's ``scores`` of ``texts`` (TF-IDF ensemble included):
        the host-side half of :meth:`predict`, row by row. ``cut``: whether each text was
        longer than the model reads (kept in the provenance)."""
        provenance = self._provenance()
        if cut is not None:
            provenance["cut"] = list(cut)
        if self.ensemble is not None:
            scores = self.ensemble.scores(texts, scores)
            provenance["tfidf_weight"] = self.ensemble.weight
        labels = decode(scores, self.codes, self.intensities, self.multi_label,
                        self.thresholds, self.presence)
        return Predictions(self.name, list(doc_ids), labels, self.outputs, scores, provenance)

    def _provenance(self) -> dict[str, Any]:
        return {"model": self.name, "adapter_sha256": self.adapter_sha256, "mode": self.mode}

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
    quantization = quant.recorded(manifest, settings, bf16)
    quant.require_device(name, quantization, dev)
    # the same NF4 base the adapter was trained (and validated) on
    bits: dict[str, Any] = {"quantize": "4bit", "quantization": quantization} \
        if quantization else {}
    tok = load_tokenizer(base)
    max_length = int(settings["max_length"])
    scorer: ClassifierScorer | GenerativeScorer
    if settings["mode"] == "classifier":
        tok.padding_side = "right"
        body = load_sequence_classifier(base, len(outputs(codes, intensities)),
                                        multi_label=multi, device=dev, **bits)
        model = _placed(PeftModel.from_pretrained(body, str(folder.adapter)), dev, bits)
        scorer = ClassifierScorer(model, tok, multi, max_length, dev, bf16,
                                  str(settings.get("template", TEXT)),
                                  long=str(settings.get("long", "truncate")))
    else:
        if study.codebook.codes != codes:
            raise ReplicoderError(f"model {name!r} was trained with another codebook")
        model = _placed(PeftModel.from_pretrained(load_causal_lm(base, device=dev, **bits),
                                                  str(folder.adapter)), dev, bits)
        scorer = GenerativeScorer(model, tok, study.codebook, label_map["instruction"],
                                  max_length, int(label_map["max_new_tokens"]), dev, bf16)
    loaded = folder.adapter_sha256()
    warn_adapter(name, loaded, manifest)
    return TrainedModel(name, folder.path, settings, manifest, codes, multi, intensities,
                        folder.thresholds(codes), scorer, loaded,
                        folder.ensemble(), _presence(name, label_map), quantization)


def _placed(model: Any, device: str, bits: dict[str, Any]) -> Any:
    """In eval mode on ``device`` (a 4-bit model was placed at load and cannot move)."""
    return (model if bits else model.to(device)).eval()


def _presence(name: str, label_map: dict[str, Any]) -> str:
    presence = str(label_map.get("presence", "max"))
    if presence not in PRESENCE:
        raise ReplicoderError(f"model {name!r}: label_map.json gives presence {presence!r}; "
                              f"use one of {', '.join(PRESENCE)}, or retrain the model")
    return presence


def zero_shot(study: Study, base_name: str = "embedded", *, device: str | None = None,
              max_length: int | None = None, answer: str = "score", variant: str = "",
              prompt: str = "") -> GenerativeScorer | ZeroShotScorer:
    """The base model prompted with the codebook, never fine-tuned: a floor to beat.

    ``answer`` "score" (default) scores each label's answer, so every answer is a label
    (:mod:`replicoder.models.scored`; ``variant`` and ``prompt`` as there, "" the
    defaults); "generate" writes free text and reads it back.
    ``max_length``: tokens of a document the prompt holds; None: what the model's context
    leaves after the prompt and the answer (:mod:`replicoder.models.prompt_budget`). A
    longer document is cut, with a note in the prompt saying so, and counted in the
    predictions' provenance (``cuts``)."""
    from replicoder.models.prompt_budget import document_budget

    quiet()
    base = resolve(base_name)
    dev, bf16 = choose(device, "auto")
    tok = load_tokenizer(base)
    model = load_causal_lm(base, device=dev).eval()
    instruction = zero_shot_instruction(study.codebook)
    answer_tokens = max_answer_tokens(tok, study.codebook)
    context = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
    if answer == "score":
        scored = ZeroShotScorer(model, tok, study.codebook, instruction, max_length or 1, dev,
                                bf16, Variant.parse(variant or ZERO_SHOT_VARIANT),
                                prompt or ZERO_SHOT_PROMPT)
        if max_length is None:
            scored.max_length = scored.budget(context)
        return scored
    if max_length is None:
        max_length = document_budget(tok, instruction, answer_tokens, context)
    return GenerativeScorer(model, tok, study.codebook, instruction, max_length, answer_tokens,
                            dev, bf16, note=True)
