"""Documents longer than the model's length: cut (``truncate``, ``head-tail``) or read whole
in overlapping windows (``chunk``).

``chunk`` splits a document into windows of the model's length that overlap by a quarter,
each ending with the template's cue, and pools the windows' logits into the document's
by their log-mean-exp (per label: ``log(mean(exp(logits)))``, a smooth maximum). A cue
that only one of k windows can see raises that window's logit, and the log-mean-exp
passes it on less ``log k``, where a plain mean would divide it by k: on the synthetic
cue-at-the-end benchmark (bench/bench_long_cue.py) the mean learnt little in 100 steps.
One window pools to itself, so a short document scores exactly as without chunking.
Pooling logits (not hidden states) works with merged weights and any head. Training
computes the loss on the pooled logits of each document (the loss sees the whole
document); a batch whose windows do not fit in one forward pass is run in micro-batches
(:func:`pooled_loss`), so memory is bounded by ``micro`` windows whatever a document's
length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LONG", "POOLING", "Encoded", "head_tail", "pool", "pooled_loss", "split", "windows"]

LONG = ("truncate", "head-tail", "chunk")
POOLING = "log-mean-exp"  # how chunk pools its windows' logits (recorded by benchmarks)
OVERLAP = 4  # windows overlap by 1/OVERLAP of their length


@dataclass
class Encoded:
    """Encoded documents: ``windows`` (token ids), ``owner[i]``: the document of window i;
    ``cut[d]``: whether document d lost tokens."""

    windows: list[list[int]] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)
    cut: list[bool] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.cut)

    def head(self, k: int) -> Encoded:
        """The first ``k`` documents."""
        keep = [i for i, d in enumerate(self.owner) if d < k]
        return Encoded([self.windows[i] for i in keep], [self.owner[i] for i in keep],
                       self.cut[:k])

    def of(self) -> list[list[int]]:
        """The windows of each document (indices into ``windows``)."""
        out: list[list[int]] = [[] for _ in range(self.n)]
        for i, d in enumerate(self.owner):
            out[d].append(i)
        return out

    def lengths(self) -> list[int]:
        """Tokens per document, all windows together (for length-sorted batches)."""
        out = [0] * self.n
        for w, d in zip(self.windows, self.owner, strict=True):
            out[d] += len(w)
        return out


def windows(body: list[int], room: int) -> list[list[int]]:
    """Overlapping windows of at most ``room`` tokens covering ``body``, the last one
    ending at its end."""
    if len(body) <= room:
        return [body]
    stride = max(1, room - room // OVERLAP)
    starts = list(range(0, len(body) - room, stride)) + [len(body) - room]
    return [body[s:s + room] for s in starts]


def head_tail(body: list[int], room: int) -> list[int]:
    """The first quarter and the last three quarters of ``room`` tokens (Sun et al. 2019
    found head+tail best for long documents)."""
    if len(body) <= room:
        return body
    head = room // 4
    return body[:head] + body[len(body) - (room - head):]


def split(bodies: Sequence[list[int]], prefix: list[int], cue: list[int], length: int,
          long: str) -> Encoded:
    """Each body (document tokens, no special tokens) as windows of at most ``length``
    tokens: ``prefix`` (special tokens) + part of the body + ``cue``."""
    room = max(1, length - len(cue) - len(prefix))
    enc = Encoded()
    for d, body in enumerate(bodies):
        if long == "chunk":
            parts = windows(body, room)
        elif long == "head-tail":
            parts = [head_tail(body, room)]
        else:
            parts = [body[:room]]
        for part in parts:
            enc.windows.append(prefix + part + cue)
            enc.owner.append(d)
        enc.cut.append(long != "chunk" and len(body) > room)
    return enc


def pool(torch: Any, logits: Any, owner: Sequence[int], n: int) -> Any:
    """(n, labels) log-mean-exp of the window logits (windows, labels) of each document;
    ``owner[w]``: the document of window w, every document owning at least one."""
    index = torch.tensor(list(owner), device=logits.device)
    rows = index.unsqueeze(1).expand_as(logits)
    top = torch.full((n, logits.shape[1]), float("-inf"), dtype=logits.dtype,
                     device=logits.device)
    top = top.scatter_reduce(0, rows, logits, reduce="amax", include_self=True).detach()
    total = torch.zeros_like(top).index_add(0, index, (logits - top[index]).exp())
    count = torch.zeros(n, dtype=logits.dtype, device=logits.device)
    count = count.index_add(0, index, torch.ones_like(index, dtype=logits.dtype))
    return (total / count.unsqueeze(1)).log() + top


def pooled_loss(torch: Any, forward: Callable[[list[list[int]]], Any],
                wins: list[list[int]], owner: list[int], n: int,
                loss_of: Callable[[Any], Any], micro: int) -> Any:
    """The loss of ``n`` documents on their pooled window logits.

    Up to ``micro`` windows: one forward, returns the loss (the caller calls backward).
    More: the gradient is computed here in two passes (window logits without gradients,
    the loss's gradient on each window's logits through the pooling, then each
    micro-batch of windows again with that gradient), and the returned loss has no graph
    (the caller's backward then does nothing); memory is bounded by ``micro`` windows.
    """
    if len(wins) <= micro:
        return loss_of(pool(torch, forward(wins), owner, n))
    order = sorted(range(len(wins)), key=lambda i: len(wins[i]))
    groups = [order[i:i + micro] for i in range(0, len(order), micro)]
    with torch.no_grad():
        parts = [(g, forward([wins[i] for i in g]).float()) for g in groups]
        logits = torch.zeros(len(wins), parts[0][1].shape[1], device=parts[0][1].device)
        for g, out in parts:
            logits[g] = out
    logits.requires_grad_(True)
    loss = loss_of(pool(torch, logits, owner, n))
    (per_window,) = torch.autograd.grad(loss, logits)
    for g in groups:
        out = forward([wins[i] for i in g])
        (out.float() * per_window[g]).sum().backward()
    return loss.detach()
