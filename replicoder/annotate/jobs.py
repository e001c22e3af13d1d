"""What an annotate run will ask: the documents chosen, one request per distinct prompt,
and its cache key. Shared by the runner and by ``--plan`` (which sends nothing)."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from replicoder.annotate.backends import create
from replicoder.annotate.backends.base import Backend
from replicoder.annotate.config import AnnotatorConfig
from replicoder.errors import ReplicoderError
from replicoder.labels.parse import parse_answer
from replicoder.labels.prompts import Messages, PromptTemplate, load_template
from replicoder.models.prompt_budget import fit_document
from replicoder.store import Proposal, Store
from replicoder.store.cache import CachedResponse
from replicoder.study import Study

__all__ = ["Annotator", "Job", "choose_documents", "doc_texts", "request_key"]


def request_key(backend: str, model: str, messages: Messages, params: dict[str, Any]) -> str:
    """sha256 of (backend, model, rendered prompt, parameters): the cache key."""
    blob = json.dumps({"backend": backend, "model": model, "messages": messages,
                       "params": params}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class Job:
    """One distinct request; ``doc_ids`` holds every document whose prompt it is."""

    key: str
    messages: Messages
    doc_ids: list[str] = field(default_factory=list)
    cut_tokens: int = 0  # tokens of the document left out to fit the model's context

    @property
    def chars(self) -> int:
        return sum(len(m["content"]) for m in self.messages)


class Annotator:
    """A configured annotator, ready to build requests and read answers."""

    template: PromptTemplate
    backend: Backend

    def __init__(self, study: Study, cfg: AnnotatorConfig) -> None:
        self.study = study
        self.cfg = cfg
        if cfg.model.startswith("trained:"):  # a study's generative adapter: annotate.trained
            from replicoder.annotate.trained import trained_annotator

            self.template, self.backend = trained_annotator(study, cfg)
            return
        self.template = load_template(cfg.template, study.root, cfg.name)
        self.backend = create(cfg)
        if cfg.structured and hasattr(self.backend, "response_format"):
            from replicoder.annotate.structured import response_format

            self.backend.response_format = response_format(study.codebook)
        if cfg.scores:
            from replicoder.annotate.scoring import ScoringBackend

            self.backend = ScoringBackend(self.backend,  # type: ignore[arg-type]
                                          study.codebook,
                                          self.template.render(study.codebook, ""))

    def jobs(self, docs: Sequence[tuple[str, str]]) -> list[Job]:
        """Requests for (doc_id, text) pairs, identical prompts merged, in first-seen order."""
        by_key: dict[str, Job] = {}
        fit = getattr(self.backend, "fit_document", None)  # local models: their context
        budget = fit(self.template.render(self.study.codebook, "")) if fit else None
        for doc_id, text in docs:
            dropped = 0
            if budget is not None:
                text, dropped = fit_document(budget[0], text, budget[1])
            messages = self.template.render(self.study.codebook, text)
            key = request_key(self.backend.kind, self.backend.model_id, messages,
                              self.cfg.params())
            job = by_key.setdefault(key, Job(key, messages, cut_tokens=dropped))
            job.doc_ids.append(doc_id)
        return list(by_key.values())

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.cfg.price_input_per_1k
                + output_tokens * self.cfg.price_output_per_1k) / 1000

    def proposals(self, job: Job, entry: CachedResponse) -> list[Proposal]:
        """The proposals one answer makes, with provenance (never holding a key)."""
        parsed = parse_answer(entry.response, self.study.codebook)
        provenance = {
            "annotator": self.cfg.name, "backend": self.backend.kind, "model": self.cfg.model,
            "model_id": self.backend.model_id, "params": self.cfg.params(),
            "template": self.template.name, "template_sha256": self.template.sha256,
            "prompt_sha256": hashlib.sha256(
                json.dumps(job.messages, sort_keys=True).encode()).hexdigest(),
            "request_key": job.key, "parse": parsed.reason, "run_id": entry.run_id,
            "cut_tokens": job.cut_tokens,
            "input_tokens": entry.input_tokens, "output_tokens": entry.output_tokens,
            "cost": entry.cost, "answered_at": entry.created_at,
        }
        if self.cfg.scores:
            from replicoder.annotate.scoring import probabilities

            provenance["probabilities"] = probabilities(entry.response)
        return [Proposal(doc_id, self.cfg.name, parsed.labels, "ok" if parsed.ok else "unparsed",
                         entry.response, provenance, entry.created_at) for doc_id in job.doc_ids]


def choose_documents(store: Store, limit: int | None, sample: int | None, seed: int
                     ) -> list[str]:
    """All document ids in import order; ``sample`` draws that many at random (``seed``),
    kept in import order; ``limit`` then keeps the first N."""
    for name, value in (("--limit", limit), ("--sample", sample)):
        if value is not None and value < 1:
            raise ReplicoderError(f"{name} must be at least 1 (got {value})")
    ids = store.doc_ids()
    if not ids:
        raise ReplicoderError("the study has no documents; add some with `replicoder import`")
    if sample is not None and sample < len(ids):
        chosen = set(random.Random(seed).sample(ids, sample))
        ids = [d for d in ids if d in chosen]
    return ids[:limit] if limit is not None else ids


def doc_texts(store: Store, ids: Sequence[str]) -> list[tuple[str, str]]:
    return [(d.doc_id, d.text) for d in store.documents(ids)]
