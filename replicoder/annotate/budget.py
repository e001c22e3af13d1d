"""A cap on what annotators spend: ``annotate --max-cost USD`` and ``max_cost`` per annotator.

The spend so far is what study.db's answer cache records (the cost of every answer, all
runs). A request is started only if the spend, plus the worst case of every request in
flight, plus its own worst case stays within every cap that applies to it. The worst case
counts each byte of the prompt as a token (a byte-level tokenizer never makes more) plus
``OVERHEAD`` tokens per message for the chat format, and ``max_tokens`` of answer; the
answer's real cost is never more, so the cap is never passed. Requests are admitted in
waves: as many as fit, then, once their real costs are known, the next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from replicoder.annotate.config import AnnotatorConfig
from replicoder.errors import ReplicoderError
from replicoder.labels.prompts import Messages

__all__ = ["CHARS_PER_TOKEN", "OVERHEAD", "Budget", "Cap", "estimated_tokens", "spend_within",
           "waves", "worst_cost", "worst_input_tokens"]

OVERHEAD = 16  # tokens per message (and once per request) a chat format may add
CHARS_PER_TOKEN = 4  # for estimates (--plan), not for the cap


def estimated_tokens(messages: Messages) -> int:
    """Input tokens of one request, estimated: 4 characters a token, 8 per message."""
    return sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN + 8 * len(messages)


def worst_input_tokens(messages: Messages) -> int:
    """An upper bound on the input tokens of one request."""
    return OVERHEAD + sum(len(m["content"].encode("utf-8")) + OVERHEAD for m in messages)


def worst_cost(cfg: AnnotatorConfig, messages: Messages, batch: bool = False) -> float:
    """The most one request can cost (USD) at the annotator's prices."""
    scale = cfg.batch_discount if batch else 1.0
    return scale * (worst_input_tokens(messages) * cfg.price_input_per_1k
                    + cfg.max_tokens * cfg.price_output_per_1k) / 1000


@dataclass
class Cap:
    """One limit (USD) and the spend it counts: ``spent`` (answers received) and
    ``reserved`` (worst cases of requests in flight)."""

    what: str  # "--max-cost" or "max_cost of annotator 'x'"
    limit: float
    spent: float = 0.0
    reserved: float = 0.0

    @property
    def left(self) -> float:
        return self.limit - self.spent - self.reserved


@dataclass
class Budget:
    """The caps of a run: one over all its annotators (``--max-cost``), one per annotator
    that sets ``max_cost``."""

    total: Cap | None = None
    per: dict[str, Cap] = field(default_factory=dict)

    @classmethod
    def of(cls, configs: Sequence[AnnotatorConfig], spent: dict[str, float],
           max_cost: float | None) -> Budget | None:
        """The budget for ``configs`` given each annotator's spend so far (None: no cap)."""
        if max_cost is not None and max_cost < 0:
            raise ReplicoderError(f"--max-cost must not be negative (got {max_cost})")
        per = {c.name: Cap(f"max_cost of annotator {c.name!r}", c.max_cost,
                           spent.get(c.name, 0.0)) for c in configs if c.max_cost > 0}
        total = (Cap("--max-cost", max_cost, sum(spent.get(c.name, 0.0) for c in configs))
                 if max_cost is not None else None)
        return cls(total, per) if total or per else None

    def caps(self, annotator: str) -> list[Cap]:
        return [c for c in (self.total, self.per.get(annotator)) if c is not None]

    def reserve(self, annotator: str, worst: float) -> bool:
        """Reserve ``worst`` if every cap has room for it."""
        caps = self.caps(annotator)
        if worst > 0 and any(c.left < worst for c in caps):
            return False
        for c in caps:
            c.reserved += worst
        return True

    def settle(self, annotator: str, worst: float, actual: float) -> None:
        """A request answered: its reservation becomes its real cost."""
        for c in self.caps(annotator):
            c.reserved -= worst
            c.spent += actual

    def blocking(self, annotator: str, worst: float) -> Cap | None:
        """The cap that keeps a request of cost ``worst`` from starting, if any."""
        return next((c for c in self.caps(annotator) if c.left < worst), None)


def waves(budget: Budget | None, annotator: str, costs: Sequence[float]
          ) -> Iterator[list[int]]:
    """Indices of the requests to start, wave by wave, in order. Before each wave the
    caller has settled the previous one; iteration stops when the next request does not
    fit (the caller sees which were never yielded)."""
    start = 0
    while start < len(costs):
        wave: list[int] = []
        while start < len(costs) and (budget is None
                                      or budget.reserve(annotator, costs[start])):
            wave.append(start)
            start += 1
        if not wave:
            return
        yield wave


def spend_within(budget: Budget | None, annotator: str, costs: Sequence[float],
                 answer: Callable[[list[int]], Iterator[tuple[int, float]]]
                 ) -> Iterator[int]:
    """Run ``answer`` on admitted waves; it yields (index, real cost) per answer. Yields
    each answered index; the rest did not fit under the caps."""
    for wave in waves(budget, annotator, costs):
        for i, actual in answer(wave):
            if budget is not None:
                budget.settle(annotator, costs[i], actual)
            yield i
