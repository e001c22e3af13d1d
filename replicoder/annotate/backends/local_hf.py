"""A local Hugging Face causal LM (the embedded SmolLM2 by default): batched generation
with the model's chat template, greedy unless temperature > 0 (then seeded sampling)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from replicoder.annotate.backends.base import Response
from replicoder.annotate.config import AnnotatorConfig
from replicoder.annotate.prompts import Messages
from replicoder.errors import ReplicoderError
from replicoder.models import BaseModel, load_causal_lm, load_tokenizer, resolve

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

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

    def load(self) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        """Load once per process and model (shared by annotators on the same weights)."""
        key = f"{self.base.path}|{self.device}"
        if key not in _LOADED:
            try:
                tok = load_tokenizer(self.base)
                model = load_causal_lm(self.base, device=self.device)
            except ReplicoderError as exc:
                raise ReplicoderError(f"annotator {self.cfg.name!r}: {exc}") from exc
            tok.padding_side = "left"
            model.eval()
            _LOADED[key] = (model, tok)
        return _LOADED[key]

    def complete_batch(self, batch: list[Messages]) -> list[Response]:
        """Answers for ``batch`` (len B), in order; tokens counted per answer."""
        import torch

        model, tok = self.load()
        start = time.monotonic()
        prompts = [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False)
                   for m in batch]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(model.device)
        kwargs: dict[str, Any] = {"max_new_tokens": self.cfg.max_tokens,
                                  "pad_token_id": tok.pad_token_id}
        if self.cfg.temperature > 0:
            torch.manual_seed(self.cfg.seed)
            kwargs.update(do_sample=True, temperature=self.cfg.temperature, top_p=1.0, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        threads = torch.get_num_threads()
        if self.cfg.threads:
            # On a busy machine one thread can be ~10x faster than two (measured here).
            torch.set_num_threads(self.cfg.threads)
        try:
            with torch.inference_mode():
                out = model.generate(**enc, **kwargs)  # type: ignore[operator]
        finally:
            torch.set_num_threads(threads)
        new = out[:, enc["input_ids"].shape[1]:]
        seconds = (time.monotonic() - start) / len(batch)
        stops = {tok.eos_token_id, tok.pad_token_id}
        responses = []
        for row, mask in zip(new.tolist(), enc["attention_mask"], strict=True):
            n_out = next((i + 1 for i, t in enumerate(row) if t in stops), len(row))
            text = str(tok.decode(row[:n_out], skip_special_tokens=True))
            responses.append(Response(
                text=text.strip(),
                input_tokens=int(mask.sum()), output_tokens=n_out, seconds=seconds,
            ))
        return responses
