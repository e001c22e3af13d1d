"""A local Hugging Face causal LM (the embedded SmolLM2 by default): batched generation
with the model's chat template, greedy unless temperature > 0 (then seeded sampling)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from replicoder.annotate.backends.base import Response
from replicoder.annotate.config import AnnotatorConfig
from replicoder.errors import ReplicoderError
from replicoder.labels.prompts import Messages
from replicoder.models.base import BaseModel, load_causal_lm, load_tokenizer, resolve
from replicoder.models.generation import generate

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["LocalBackend"]

_LOADED: dict[str, tuple[PreTrainedModel, PreTrainedTokenizerBase]] = {}


class LocalBackend:
    """Generates answers for a batch of prompts in one ``generate`` call."""

    kind = "local"

    def __init__(self, cfg: AnnotatorConfig, device: str | None = None) -> None:
        self.cfg = cfg
        try:
            self.base: BaseModel = resolve(cfg.model)
        except ReplicoderError as exc:
            raise ReplicoderError(f"annotator {cfg.name!r}: {exc}") from exc
        # The weights' hash, not just the name, identifies the model in cache keys.
        self.model_id = f"{cfg.model}@{self.base.sha256[:16]}" if self.base.sha256 else cfg.model
        self.device = device
        self.batch_size = cfg.batch_size
        self.retries = 0
        self._tokenizer: PreTrainedTokenizerBase | None = None

    def load(self) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        """Load once per process and model (shared by annotators on the same weights)."""
        key = f"{self.base.path}|{self.device}"
        if key not in _LOADED:
            try:
                tok = load_tokenizer(self.base)
                model = load_causal_lm(self.base, device=self.device)
            except ReplicoderError as exc:
                raise ReplicoderError(f"annotator {self.cfg.name!r}: {exc}") from exc
            model.eval()
            _LOADED[key] = (model, tok)
        return _LOADED[key]

    def fit_document(self, empty: Messages) -> tuple[PreTrainedTokenizerBase, int]:
        """(tokenizer, tokens of document text that fit): the model's context less the
        prompt around the document (``empty``: the prompt rendered with no document), the
        answer (max_tokens) and room for the note a cut document gets."""
        from replicoder.models.length import context_of
        from replicoder.models.prompt_budget import NOTE_ROOM

        tok = load_tokenizer(self.base) if self._tokenizer is None else self._tokenizer
        self._tokenizer = tok
        rendered = tok.apply_chat_template(empty, add_generation_prompt=True, tokenize=False)
        overhead = len(tok(rendered, add_special_tokens=False)["input_ids"])
        room = context_of(self.base.path) - overhead - self.cfg.max_tokens - NOTE_ROOM
        return tok, max(1, room)

    def answer_all(self, requests: Sequence[Messages]) -> Iterator[tuple[int, Response]]:
        """Batches of ``batch_size`` requests, shortest prompts first (less padding)."""
        order = sorted(range(len(requests)),
                       key=lambda i: sum(len(m["content"]) for m in requests[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            yield from zip(batch, self.complete_batch([requests[i] for i in batch]),
                           strict=True)

    def close(self) -> None:
        return None

    def complete_batch(self, batch: list[Messages]) -> list[Response]:
        """Answers for ``batch`` (len B), in order; tokens counted per answer."""
        import torch

        model, tok = self.load()
        start = time.monotonic()
        prompts = [list(tok(tok.apply_chat_template(m, add_generation_prompt=True,
                                                    tokenize=False),
                            add_special_tokens=False)["input_ids"]) for m in batch]
        threads = torch.get_num_threads()
        if self.cfg.threads:
            # On a busy machine one thread can be ~10x faster than two (measured here).
            torch.set_num_threads(self.cfg.threads)
        try:
            out = generate(model, tok, prompts, max_new_tokens=self.cfg.max_tokens,
                           temperature=self.cfg.temperature, seed=self.cfg.seed,
                           batch_size=len(prompts))
        finally:
            torch.set_num_threads(threads)
        seconds = (time.monotonic() - start) / len(batch)
        return [Response(text=g.text.strip(), input_tokens=g.prompt_tokens,
                         output_tokens=g.completion_tokens, seconds=seconds) for g in out]
