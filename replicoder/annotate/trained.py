"""A study's trained generative model as a local annotator (``model = "trained:NAME"``).

The adapter (models/NAME, trained with ``--mode generative``) is loaded on its base through
:func:`replicoder.models.load_trained`, and asked with the prompt it was trained on (its
instruction, the document cut to its ``max_length``). By default it answers by scoring:
the log-probability of each label's answer as it learnt to write it (the code, graded
"code: intensity", then the end token) after that prompt, so every answer is a label with
a probability per label. Multi-label codebooks are answered by generation (its answers are
sets, whose probabilities the scores of single codes do not give); ``answer = "generate"``
generates for any codebook.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from replicoder.annotate.backends.base import Backend, Response
from replicoder.annotate.config import AnnotatorConfig
from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import Codebook
from replicoder.labels.prompts import Messages, PromptTemplate
from replicoder.models.folder import ModelFolder
from replicoder.models.label_scores import DEFAULT_VARIANT, Variant
from replicoder.study import Study

__all__ = ["PREFIX", "TRAINED_VARIANT", "TrainedBackend", "TrainedPrompt", "trained_annotator",
           "trained_name"]

PREFIX = "trained:"
TRAINED_VARIANT = "code-sum"  # the probability of the exact answer the adapter learnt

_LOADED: dict[tuple[str, str], Any] = {}


def trained_name(model: str) -> str | None:
    """NAME of ``trained:NAME``; None for any other model."""
    return model[len(PREFIX):] if model.startswith(PREFIX) else None


@dataclass(frozen=True)
class TrainedPrompt(PromptTemplate):
    """The adapter's own prompt: its instruction (``source``), then the document as is."""

    def render(self, codebook: Codebook, text: str) -> Messages:
        return [{"role": "system", "content": self.source}, {"role": "user", "content": text}]


def _variant(cfg: AnnotatorConfig) -> Variant:
    if cfg.scoring == DEFAULT_VARIANT:
        return Variant.parse(TRAINED_VARIANT)
    variant = Variant.parse(cfg.scoring)
    if variant.form != "code" or variant.calibrate:
        raise ReplicoderError(
            f"annotator {cfg.name!r}: a trained adapter answers with codes; set scoring to "
            "'code-sum' (default), 'code-first' or 'code-mean', without '-cf'")
    return variant


def trained_annotator(study: Study, cfg: AnnotatorConfig) -> tuple[PromptTemplate, Backend]:
    """The prompt and backend of an annotator whose model is ``trained:NAME``."""
    name = trained_name(cfg.model) or ""
    try:
        folder = ModelFolder.of(study.models_dir, name).require()
        label_map, settings = folder.label_map(), folder.settings()
    except ReplicoderError as exc:
        raise ReplicoderError(f"annotator {cfg.name!r}: {exc}") from exc
    if settings.get("mode") != "generative":
        raise ReplicoderError(
            f"annotator {cfg.name!r}: model {name!r} is a {settings.get('mode')} model; an "
            "annotator needs one trained with `replicoder train --mode generative`")
    if [str(c) for c in label_map["codes"]] != study.codebook.codes:
        raise ReplicoderError(f"annotator {cfg.name!r}: model {name!r} was trained with "
                              "another codebook; retrain it on this study")
    score = cfg.scores and not study.codebook.multi_label
    if cfg.answer == "score" and study.codebook.multi_label:
        raise ReplicoderError(
            f"annotator {cfg.name!r}: a trained adapter scores single-label codebooks only; "
            "set answer = \"generate\" (or \"auto\") for this multi-label codebook")
    variant = _variant(cfg) if score else None
    instruction = str(label_map["instruction"])
    prompt = TrainedPrompt(f"{PREFIX}{name}", instruction, False)
    sha = folder.adapter_sha256()
    how = variant.spec if variant else "generate"
    backend = TrainedBackend(study, cfg, name, f"{PREFIX}{name}@{sha[:16]}/{how}", sha, variant)
    return prompt, backend


class TrainedBackend:
    """Scores (or generates) with the trained adapter, ``batch_size`` documents a pass."""

    kind = "local"

    def __init__(self, study: Study, cfg: AnnotatorConfig, name: str, model_id: str,
                 adapter_sha256: str, variant: Variant | None) -> None:
        self.study = study
        self.cfg = cfg
        self.name = name
        self.model_id = model_id
        self.adapter_sha256 = adapter_sha256
        self.variant = variant
        self.retries = 0

    def load(self) -> Any:
        """The trained model (a GenerativeScorer inside), loaded once per process."""
        from replicoder.models import load_trained

        key = (str(self.study.models_dir / self.name), self.adapter_sha256)
        if key not in _LOADED:
            try:
                _LOADED[key] = load_trained(self.study, self.name)
            except ReplicoderError as exc:
                raise ReplicoderError(f"annotator {self.cfg.name!r}: {exc}") from exc
        return _LOADED[key]

    def fit_document(self, empty: Messages) -> tuple[Any, int]:
        """(tokenizer, the ``max_length`` tokens of a document the adapter reads, as it was
        trained): annotate counts the documents longer than that (``cut_tokens``); the
        adapter reads their first ``max_length`` tokens, as in training."""
        from replicoder.models.base import load_tokenizer, resolve
        from replicoder.models.folder import ModelFolder

        settings = ModelFolder.of(self.study.models_dir, self.name).settings()
        return load_tokenizer(resolve(str(settings["base"]))), int(settings["max_length"])

    def answer_all(self, requests: Sequence[Messages]) -> Iterator[tuple[int, Response]]:
        import torch

        scorer = self.load().scorer
        threads = torch.get_num_threads()
        if self.cfg.threads:
            torch.set_num_threads(self.cfg.threads)
        try:
            size = max(self.cfg.batch_size, 32) if self.variant else self.cfg.batch_size
            for start in range(0, len(requests), size):
                part = requests[start:start + size]
                began = time.monotonic()
                prompts = [scorer.prompt_ids(m[-1]["content"]) for m in part]
                texts = (self._score(scorer, prompts, part) if self.variant
                         else self._generate(scorer, prompts))
                seconds = (time.monotonic() - began) / len(part)
                for i, (text, spent) in enumerate(texts):
                    yield start + i, Response(text, len(prompts[i]), spent, seconds)
        finally:
            torch.set_num_threads(threads)

    def _score(self, scorer: Any, prompts: list[list[int]], part: Sequence[Messages]
               ) -> list[tuple[str, int]]:
        from replicoder.annotate.scoring import _rng, sample
        from replicoder.models.label_scores import LabelScorer

        assert self.variant is not None
        book = self.study.codebook
        labels = LabelScorer(scorer.model, scorer.tokenizer, book, self.variant,
                             json_answers=False, bf16=scorer.bf16)
        scorer.model.eval()
        out = []
        for messages, s in zip(part, labels.score_ids(prompts), strict=True):
            if self.cfg.temperature > 0:
                s = sample(s, book, self.cfg.temperature, _rng(self.cfg.seed, messages))
            out.append((s.answer(book), 0))
        return out

    def _generate(self, scorer: Any, prompts: list[list[int]]) -> list[tuple[str, int]]:
        from replicoder.models.generation import generate

        scorer.model.eval()
        found = generate(scorer.model, scorer.tokenizer, prompts,
                         max_new_tokens=scorer.max_new_tokens,
                         temperature=self.cfg.temperature, seed=self.cfg.seed,
                         batch_size=len(prompts), bf16=scorer.bf16,
                         eos_token_id=scorer.tokenizer.eos_token_id)
        graded = self.study.codebook.graded
        # the adapter writes "a; b" (graded "joy: high; hope: low"), one item a line here
        return [(g.text.strip().replace(";", "\n") if graded else g.text.strip(),
                 g.completion_tokens) for g in found]

    def close(self) -> None:
        return None
