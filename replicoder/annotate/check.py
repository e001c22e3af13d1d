"""``replicoder annotate check``: label-free tests of an annotator against the codebook,
before it codes anything (after Halterman & Keith, Political Analysis 2025).

- valid labels: every answer, on a few of the study's documents and on the tests below,
  is a codebook label;
- label recovery: a document made of one label's description (and examples) gets that
  label;
- order: the same answers when the labels are listed in reverse order;
- renamed codes: the same answers, mapped back, when every code is renamed.

Answers are cached in study.db like any other (no proposals are stored); the results go to
the run's manifest (runs/<id>/manifest.json), and so into a frozen package.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

from replicoder.annotate.config import select
from replicoder.annotate.jobs import Annotator, choose_documents, doc_texts
from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import Codebook
from replicoder.labels.parse import Parsed
from replicoder.run import Run, now
from replicoder.study import Study

__all__ = ["CheckResult", "CheckRow", "check"]


@dataclass(frozen=True)
class CheckRow:
    """One test: how many of its cases passed, and whether that meets the bar."""

    test: str
    passed: int
    total: int
    needed: float  # share of cases that must pass
    detail: str = ""

    @property
    def share(self) -> float:
        return self.passed / self.total if self.total else 1.0

    @property
    def ok(self) -> bool:
        return self.share >= self.needed - 1e-12


@dataclass
class CheckResult:
    annotator: str
    rows: list[CheckRow]
    run_id: str
    manifest_path: Path
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)


def label_text(book: Codebook, code: str) -> str:
    """A document standing for one label: its description and examples (else its name)."""
    lab = book.label(code)
    return " ".join([lab.description or lab.name, *lab.examples])


def _answers(study: Study, book: Codebook, annotator: str, docs: list[tuple[str, str]]
             ) -> list[Parsed]:
    """What the annotator answers with ``book`` as the codebook, through the cache."""
    from replicoder.annotate.runner import _entry
    from replicoder.labels.parse import parse_answer

    variant = dataclasses.replace(study, codebook=book)
    (cfg,) = select(study, [annotator])
    ann = Annotator(variant, cfg)
    jobs = ann.jobs(docs)
    with study.store() as store:
        found = store.cached([j.key for j in jobs])
        todo = [j for j in jobs if j.key not in found]
        for i, resp in ann.backend.answer_all([j.messages for j in todo]):
            entry = _entry(ann, todo[i], resp, "annotate-check")
            store.cache_answer(entry)
            found[entry.key] = entry
    by_doc = {d: parse_answer(found[j.key].response, book) for j in jobs for d in j.doc_ids}
    return [by_doc[d] for d, _ in docs]


def _renamed(book: Codebook, seed: int) -> tuple[Codebook, dict[str, str]]:
    """The codebook with codes renamed (shuffled "L1".."Ln"); new code -> old code."""
    order = list(range(len(book.labels)))
    random.Random(seed).shuffle(order)
    new = {lab.code: f"L{order[i] + 1}" for i, lab in enumerate(book.labels)}
    labels = tuple(dataclasses.replace(lab, code=new[lab.code]) for lab in book.labels)
    return dataclasses.replace(book, labels=labels), {v: k for k, v in new.items()}


def check(study: Study, annotator: str, *, documents: int = 5, min_share: float = 0.9,
          seed: int = 0) -> CheckResult:
    """Run the four tests (module docstring) on ``annotator``; write a manifest."""
    import time

    if documents < 0:
        raise ReplicoderError(f"--documents must not be negative (got {documents})")
    if not 0 <= min_share <= 1:
        raise ReplicoderError(f"--min-share must be between 0 and 1 (got {min_share})")
    select(study, [annotator])
    book = study.codebook
    began = time.monotonic()
    run = Run.start(study, "annotate-check")
    with study.store() as store:
        ids = choose_documents(store, None, documents, seed) if documents else []
        sampled = doc_texts(store, ids)
    probes = [(f"label:{lab.code}", label_text(book, lab.code)) for lab in book.labels]
    docs = probes + sampled
    base = _answers(study, book, annotator, docs)
    reversed_book = dataclasses.replace(book, labels=tuple(reversed(book.labels)))
    flipped = _answers(study, reversed_book, annotator, docs)
    renamed_book, back = _renamed(book, seed)
    renamed = _answers(study, renamed_book, annotator, docs)
    mapped = [frozenset(back[c] for c in p.labels) for p in renamed]

    every = base + flipped + renamed
    bad = [p.reason for p in every if not p.ok]
    recovered = [lab.code for lab, p in zip(book.labels, base, strict=False)
                 if p.ok and p.labels == {lab.code}]
    missed = [lab.code for lab in book.labels if lab.code not in recovered]
    same_order = sum(a.ok and a.labels == b.labels for a, b in zip(base, flipped, strict=True))
    same_names = sum(a.ok and a.labels == m for a, m in zip(base, mapped, strict=True))
    rows = [
        CheckRow("valid labels only", len(every) - len(bad), len(every), 1.0,
                 f"e.g. {bad[0]}" if bad else ""),
        CheckRow("each label recovered from its description", len(recovered),
                 len(book.labels), min_share,
                 f"missed: {', '.join(missed[:10])}" if missed else ""),
        CheckRow("same answers, labels in reverse order", same_order, len(docs), min_share),
        CheckRow("same answers, codes renamed", same_names, len(docs), min_share),
    ]
    seconds = time.monotonic() - began
    run.write({"annotator": annotator, "finished_at": now(), "seconds": seconds,
               "documents": {"probes": len(probes), "sampled": ids, "seed": seed},
               "min_share": min_share,
               "checks": [{**dataclasses.asdict(r), "share": r.share, "ok": r.ok}
                          for r in rows],
               "status": "passed" if all(r.ok for r in rows) else "failed"})
    return CheckResult(annotator, rows, run.run_id, run.manifest_path, seconds)
