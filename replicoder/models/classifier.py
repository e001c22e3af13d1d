"""Classifier scorer: a (LoRA) sequence-classification head on a causal LM.

Single-label codebooks: softmax over labels; multi-label: a sigmoid per label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.models.chunks import Encoded, pool, split
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
    long: str = "truncate"  # longer documents: truncate, head-tail or chunk (models.chunks)

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Each text shown through ``template`` as windows of at most ``max_length`` tokens
        (one window unless ``long`` is chunk); a cut text loses its body, never the cue
        after it (the head reads the last token), and is marked in ``cut``."""
        before, after = check_template(self.template)
        cue: list[int] = []
        if after:
            cue = list(self.tokenizer(after, add_special_tokens=False)["input_ids"])
        prefix = list(self.tokenizer("")["input_ids"])
        bodies = self.tokenizer([before + t for t in texts],
                                add_special_tokens=False)["input_ids"] if texts else []
        return split([list(b) for b in bodies], prefix, cue, self.max_length, self.long)

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

    def prepare(self, enc: Encoded, batch_size: int = 32) -> Prepared:
        """Length-sorted batches of the windows of encoded documents, padded on the host."""
        batches = length_batches([len(w) for w in enc.windows], batch_size)
        return Prepared(enc.n, list(enc.owner),
                        [(b, self.batch([enc.windows[i] for i in b])) for b in batches])

    def launch(self, prepared: Prepared) -> Launched:
        """Queue the forward passes of ``prepared`` on the device; nothing is read back."""
        import torch

        self.model.eval()
        parts: list[Any] = []
        order: list[int] = []
        with torch.inference_mode():
            for rows, batch in prepared.batches:
                parts.append(self.forward(batch))
                order.extend(rows)
            logits = torch.cat(parts) if parts else None
        return Launched(prepared.n, prepared.owner, order, logits)

    def collect(self, launched: Launched) -> np.ndarray:
        """(documents, n_labels) scores of launched batches in input order, a document's
        windows pooled (:func:`replicoder.models.chunks.pool`): one copy to the host."""
        import torch

        out = np.zeros((launched.n, self.model.config.num_labels), dtype=np.float32)
        if launched.logits is None:
            return out
        with torch.inference_mode():
            owner = [launched.owner[w] for w in launched.order]
            pooled = pool(torch, launched.logits, owner, launched.n)
            probs = pooled.sigmoid() if self.multi_label else pooled.softmax(-1)
            out[:] = probs.cpu().numpy()
        return out

    def scores_of(self, enc: Encoded, batch_size: int = 32) -> np.ndarray:
        """Scores of documents already encoded; memory is bounded by ``batch_size``
        windows whatever the documents' lengths; one copy to the host for the whole call."""
        return self.collect(self.launch(self.prepare(enc, batch_size)))


@dataclass
class Prepared:
    """Encoded documents as padded host batches of windows: (window rows, batch) in
    scoring order; ``owner[w]``: the document of window w."""

    n: int
    owner: list[int]
    batches: list[tuple[list[int], HostBatch]]


@dataclass
class Launched:
    """Window logits being computed on the device; ``order``: the window of each row."""

    n: int
    owner: list[int]
    order: list[int]
    logits: Any
