"""Classifier scorer: a (LoRA) sequence-classification head on a causal LM.

Single-label codebooks: softmax over labels; multi-label: a sigmoid per label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.models.fastpath import (
    HostBatch,
    host_batch,
    needs_padding_mask,
    on_device,
    use_causal_attention,
)
from replicoder.models.runtime import autocast, length_batches

__all__ = ["TEXT", "ClassifierScorer", "check_template"]

TEXT = "{text}"


def check_template(template: str) -> tuple[str, str]:
    """(before, after) the one ``{text}`` of ``template``; plain text replacement, so a
    template from someone else's study can hold nothing that runs."""
    if template.count(TEXT) != 1:
        raise ReplicoderError(
            f"template {template!r} must contain {TEXT} exactly once (where the document's "
            "text goes), e.g. '{text}\\nTopic:'"
        )
    before, _, after = template.partition(TEXT)
    return before, after


@dataclass
class ClassifierScorer:
    """Scores texts: (n, n_labels) probabilities in codebook order."""

    model: Any
    tokenizer: Any
    multi_label: bool
    max_length: int
    device: str
    bf16: bool
    template: str = TEXT
    pad_multiple: int = 1  # batch widths rounded up to this (shape buckets for compile)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text shown through ``template``, at most ``max_length``: a
        long text is cut, never the cue after it (the head reads the last token)."""
        before, after = check_template(self.template)
        cue: list[int] = []
        if after:
            cue = list(self.tokenizer(after, add_special_tokens=False)["input_ids"])
        room = max(1, self.max_length - len(cue))
        enc = self.tokenizer([before + t for t in texts], truncation=True, max_length=room)
        return [list(ids) + cue for ids in enc["input_ids"]]

    def batch(self, ids: Sequence[list[int]]) -> HostBatch:
        """One batch padded on the right, on the host (no device work: a worker thread
        may build the next while the device runs this one). A classifier never generates,
        so its SDPA attention runs causal and mask-free (fastpath.use_causal_attention)."""
        use_causal_attention(self.model)
        return host_batch(ids, self.tokenizer.pad_token_id, device=self.device,
                          mask=needs_padding_mask(self.model), multiple=self.pad_multiple)

    def forward(self, batch: HostBatch) -> Any:
        """Logits (rows, n_labels) of a host batch, float32, left on the device."""
        with autocast(self.device, self.bf16):
            out = self.model(**on_device(batch, self.device), use_cache=False)
        return out.logits.float()

    def logits(self, ids: Sequence[list[int]]) -> Any:
        """Logits (len(ids), n_labels) of one padded batch, float32."""
        return self.forward(self.batch(ids))

    def scores(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self.scores_of(self.encode(texts), batch_size)

    def prepare(self, ids: Sequence[list[int]], batch_size: int = 32) -> Prepared:
        """Length-sorted batches of encoded texts, padded on the host."""
        batches = length_batches([len(x) for x in ids], batch_size)
        return Prepared(len(ids), [(b, self.batch([ids[i] for i in b])) for b in batches])

    def launch(self, prepared: Prepared) -> Launched:
        """Queue the forward passes of ``prepared`` on the device; nothing is read back."""
        import torch

        self.model.eval()
        parts: list[Any] = []
        order: list[int] = []
        with torch.inference_mode():
            for rows, batch in prepared.batches:
                logits = self.forward(batch)
                parts.append(logits.sigmoid() if self.multi_label else logits.softmax(-1))
                order.extend(rows)
            scores = torch.cat(parts) if parts else None
        return Launched(prepared.n, order, scores)

    def collect(self, launched: Launched) -> np.ndarray:
        """The scores of launched batches in input order: one copy to the host."""
        out = np.zeros((launched.n, self.model.config.num_labels), dtype=np.float32)
        if launched.scores is not None:
            out[launched.order] = launched.scores.cpu().numpy()
        return out

    def scores_of(self, ids: Sequence[list[int]], batch_size: int = 32) -> np.ndarray:
        """Scores of texts already encoded; one copy to the host for the whole call."""
        return self.collect(self.launch(self.prepare(ids, batch_size)))


@dataclass
class Prepared:
    """Encoded texts as padded host batches: (rows of the input, batch) in scoring order."""

    n: int
    batches: list[tuple[list[int], HostBatch]]


@dataclass
class Launched:
    """Scores being computed on the device; ``order``: the input row of each score row."""

    n: int
    order: list[int]
    scores: Any
