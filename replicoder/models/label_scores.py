"""Answer by scoring the codebook: a local model's answer is always a valid label.

Instead of generating free text, the model scores each label's answer as a continuation
of the prompt (:mod:`replicoder.models.branches`), and the answer is the best label:

- single-label: every label's answer (``{"labels": ["3"]}``, or its name), read by a
  ``Variant``: the summed log-probability of its tokens, the first distinctive token's, or
  the mean per token; optionally minus the same score after a content-free prompt;
- multi-label: one yes/no question per label after the document, yes when
  P(yes) > P(no) (optionally relative to the content-free prompt's odds);
- graded: presence as above, then the intensity whose answer scores highest.

Every answer carries a probability per label (softmax over the labels, or P(yes)).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import Codebook
from replicoder.models.branches import Stems

__all__ = ["DEFAULT_VARIANT", "FORMS", "REDUCTIONS", "LabelScorer", "Scored", "Variant",
           "chat_parts"]

FORMS = ("code", "name")
REDUCTIONS = ("sum", "first", "mean")
SENTINEL = "\u2063\u2063END-OF-DOCUMENT\u2063\u2063"
Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Variant:
    """How label scores are read: ``form`` (each answer names the code or the label's
    name), ``reduce`` (sum, first token or mean of its tokens' log-probabilities) and
    ``calibrate`` (minus a content-free prompt's scores). Written "name-first[-cf]"."""

    form: str = "code"
    reduce: str = "sum"
    calibrate: bool = False

    @property
    def spec(self) -> str:
        return f"{self.form}-{self.reduce}" + ("-cf" if self.calibrate else "")

    @classmethod
    def parse(cls, spec: str) -> Variant:
        parts = spec.split("-")
        calibrate = parts[-1] == "cf"
        if calibrate:
            parts = parts[:-1]
        if len(parts) != 2 or parts[0] not in FORMS or parts[1] not in REDUCTIONS:
            raise ReplicoderError(
                f"scoring {spec!r} is not a scoring variant; write FORM-REDUCTION[-cf] with "
                f"FORM one of {', '.join(FORMS)} and REDUCTION one of {', '.join(REDUCTIONS)} "
                "(e.g. 'code-sum' or 'name-first-cf')")
        return cls(parts[0], parts[1], calibrate)

    @classmethod
    def all(cls) -> list[Variant]:
        return [cls(f, r, c) for f in FORMS for r in REDUCTIONS for c in (False, True)]


# Chosen on the demo's validation titles (bench/results/label_scoring.json).
DEFAULT_VARIANT = "name-mean-cf"


@dataclass
class Scored:
    """One document's answer: labels (graded: ``code:intensity`` values), a probability
    per code and, graded, per intensity of each chosen code."""

    labels: frozenset[str]
    probabilities: dict[str, float]
    intensities: dict[str, dict[str, float]] = field(default_factory=dict)
    prompt_tokens: int = 0

    def answer(self, book: Codebook) -> str:
        """The answer as JSON the answer parsers read, probabilities kept alongside."""
        if book.graded:
            items: list[Any] = []
            for value in sorted(self.labels, key=book.values.index):
                code, _, level = value.rpartition(":")
                items.append({"label": code, "intensity": level})
        else:
            items = [c for c in book.codes if c in self.labels]
        out: dict[str, Any] = {"labels": items,
                               "probabilities": {k: round(v, 6)
                                                 for k, v in self.probabilities.items()}}
        if self.intensities:
            out["intensities"] = {c: {k: round(v, 6) for k, v in d.items()}
                                  for c, d in self.intensities.items()}
        return json.dumps(out, ensure_ascii=False)


def chat_parts(tokenizer: Any, messages: Messages) -> tuple[str, str]:
    """The rendered prompt cut where the last message's content ends: (up to there, the
    rest up to where the answer starts)."""
    msgs = [dict(m) for m in messages]
    msgs[-1]["content"] = msgs[-1]["content"] + SENTINEL
    if getattr(tokenizer, "chat_template", None):
        rendered = str(tokenizer.apply_chat_template(msgs, tokenize=False,
                                                     add_generation_prompt=True))
    else:
        rendered = "\n\n".join(m["content"] for m in msgs) + "\nAnswer: "
    head, _, tail = rendered.partition(SENTINEL)
    return head, tail


def _unique(mine: list[int], all_: list[list[int]]) -> int:
    """Tokens of ``mine`` needed to tell it from every other answer ("first" reduction:
    the first distinctive token, with what it takes to get there)."""
    for n in range(1, len(mine) + 1):
        if sum(a[:n] == mine[:n] for a in all_) == 1:
            return n
    return len(mine)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return np.asarray(e / e.sum())


def _logsumexp(x: np.ndarray) -> float:
    m = float(x.max())
    return m + math.log(float(np.exp(x - m).sum()))


class LabelScorer:
    """Scores a codebook's answers after prompts given as chat messages.

    ``json_answers``: the prompt asks for ``{"labels": [...]}`` (annotate's templates);
    else a bare code followed by the end token (the zero-shot instruction).
    """

    def __init__(self, model: Any, tokenizer: Any, book: Codebook, variant: Variant,
                 *, json_answers: bool, bf16: bool = False) -> None:
        self.model = model
        self.tok = tokenizer
        self.book = book
        self.variant = variant
        self.json = json_answers
        self.bf16 = bf16
        self._cf: dict[str, list[list[float]]] = {}

    def ids(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    # ---- the answers each label gives ----

    def _say(self, code: str, level: str | None = None) -> list[int]:
        label = self.book.label(code)
        what = code if self.variant.form == "code" else label.name
        if self.json:
            item = (json.dumps(what, ensure_ascii=False) if level is None else
                    json.dumps({"label": what, "intensity": level}, ensure_ascii=False))
            return self.ids(f'{{"labels": [{item}]}}')
        text = what if level is None else f"{what}: {level}"
        return [*self.ids(text), self.tok.eos_token_id]

    def longest_answer(self) -> int:
        """Tokens of the longest answer scored after a prompt."""
        keys, common, rest = self._answers()
        return len(common) + max((len(r) for r in rest), default=0)

    def _answers(self) -> tuple[list[tuple[str, str | None]], list[int], list[list[int]]]:
        """(code, level) per candidate, their common first tokens, and what follows."""
        keys: list[tuple[str, str | None]] = (
            [(c, lv) for c in self.book.codes for lv in self.book.intensities]
            if self.book.graded else [(c, None) for c in self.book.codes])
        said = [self._say(c, lv) for c, lv in keys]
        common = 0
        while (all(len(s) > common + 1 for s in said)
               and len({s[common] for s in said}) == 1):
            common += 1
        if len({tuple(s) for s in said}) < len(said):
            raise ReplicoderError(f"codebook {self.book.name!r}: two labels give the same "
                                  "answer text; give each label a distinct code and name")
        rest = [s[common:] for s in said]
        if self.variant.reduce == "first":
            rest = [r[:_unique(r, rest)] for r in rest]
        return keys, said[0][:common], rest

    def _reduce(self, rows: list[list[float]]) -> np.ndarray:
        """One score per answer from its tokens' log-probabilities."""
        if self.variant.reduce == "mean":
            return np.array([sum(r) / len(r) for r in rows])
        return np.array([sum(r) for r in rows])  # "first": the answers were cut short

    # ---- scoring ----

    def score(self, prompts: Sequence[Messages], content_free: Messages | None = None
              ) -> list[Scored]:
        """One answer per prompt. ``content_free``: the same prompt for an empty document,
        needed when the variant calibrates."""
        if self.variant.calibrate and content_free is None:
            raise ValueError("a calibrating variant needs the content-free prompt")
        if not prompts:
            return []
        if self.book.multi_label:
            return self._multi(prompts, content_free)
        return self._single(prompts, content_free)

    def rows(self, prompts: Sequence[Messages], content_free: Messages | None = None
             ) -> tuple[list[list[list[float]]], list[list[float]] | None, list[int]]:
        """Single-label: each prompt's token log-probabilities of every label's answer,
        the content-free prompt's (or None), and each prompt's length in tokens."""
        _keys, common, rest = self._answers()
        stems = []
        for m in prompts:
            head, tail = chat_parts(self.tok, m)
            stems.append(self.ids(head) + self.ids(tail) + common)
        runner = Stems(self.model, stems, self.bf16)
        key = json.dumps([content_free, self.variant.form, self.variant.reduce])
        extra: list[list[int]] = []
        if content_free is not None and key not in self._cf:
            head, tail = chat_parts(self.tok, content_free)
            extra = [self.ids(head) + self.ids(tail) + common]
        # the content-free prompt rides in the documents' passes when it shares their prefix
        ride = bool(extra) and runner.fits(extra[0])
        found = runner.score([*stems, *extra] if ride else stems,
                             [rest] * (len(stems) + ride))
        rows = [r.tokens for r in found[:len(stems)]]
        if extra:
            self._cf[key] = (found[-1] if ride else runner.score(extra, [rest])[0]).tokens
        cf = self._cf[key] if content_free is not None else None
        return rows, cf, [len(s) for s in stems]

    def score_ids(self, prompts: Sequence[list[int]]) -> list[Scored]:
        """Single-label answers (graded: code then intensity) after prompts given as token
        ids, such as the prompt a trained generative adapter learnt; no calibration."""
        if self.book.multi_label or self.variant.calibrate:
            raise ValueError("score_ids scores single-label answers, uncalibrated")
        keys, common, rest = self._answers()
        stems = [[*p, *common] for p in prompts]
        if not stems:
            return []
        found = Stems(self.model, stems, self.bf16).score(stems, [rest] * len(stems))
        return [self._pick(keys, self._reduce(r.tokens), len(s))
                for r, s in zip(found, stems, strict=True)]

    def _single(self, prompts: Sequence[Messages], content_free: Messages | None
                ) -> list[Scored]:
        keys = self._answers()[0]
        rows, cf, sizes = self.rows(prompts, content_free if self.variant.calibrate else None)
        shift = self._reduce(cf) if cf is not None else np.zeros(len(keys))
        return [self._pick(keys, self._reduce(r) - shift, n) for r, n in zip(rows, sizes,
                                                                              strict=True)]

    def _pick(self, keys: list[tuple[str, str | None]], scores: np.ndarray, n: int
              ) -> Scored:
        if not self.book.graded:
            p = _softmax(scores)
            best = keys[int(np.argmax(scores))][0]
            return Scored(frozenset([best]), dict(zip(self.book.codes, map(float, p),
                                                      strict=True)), prompt_tokens=n)
        levels = len(self.book.intensities)
        grid = scores.reshape(len(self.book.codes), levels)
        presence = np.array([_logsumexp(row) for row in grid])
        p = _softmax(presence)
        j = int(np.argmax(presence))
        code = self.book.codes[j]
        within = _softmax(grid[j])
        level = self.book.intensities[int(np.argmax(grid[j]))]
        return Scored(frozenset([f"{code}:{level}"]),
                      dict(zip(self.book.codes, map(float, p), strict=True)),
                      {code: dict(zip(self.book.intensities, map(float, within),
                                      strict=True))}, n)

    def _question(self, code: str, intensity: bool = False) -> str:
        label = self.book.label(code)
        if intensity:
            scale = ", ".join(self.book.intensities)
            return (f"\n\nQuestion: how strongly does the label {code} ({label.name}) apply "
                    f"to this document? Answer with one word: {scale}.")
        return (f"\n\nQuestion: does the label {code} ({label.name}) apply to this "
                "document? Answer yes or no.")

    def _yes_no(self) -> tuple[list[int], list[int]]:
        def firsts(words: tuple[str, ...]) -> list[int]:
            return sorted({self.ids(w)[0] for w in words})

        yes, no = firsts(("yes", "Yes", " yes", " Yes")), firsts(("no", "No", " no", " No"))
        if set(yes) & set(no):
            raise ReplicoderError("this model's tokenizer starts 'yes' and 'no' alike; "
                                  "use answer = \"generate\" for this annotator")
        return yes, no

    def _multi(self, prompts: Sequence[Messages], content_free: Messages | None
               ) -> list[Scored]:
        parts = [chat_parts(self.tok, m) for m in prompts]
        tail = parts[0][1]
        branches = [self.ids(self._question(c) + tail) for c in self.book.codes]
        yes, no = self._yes_no()
        stems = [self.ids(head) for head, _ in parts]
        runner = Stems(self.model, stems, self.bf16)

        def log_odds(ends: np.ndarray) -> np.ndarray:
            return np.array([_logsumexp(r[:len(yes)]) - _logsumexp(r[len(yes):])
                             for r in ends])

        shift = np.zeros(len(branches))
        if self.variant.calibrate and content_free is not None:
            cf = self.ids(chat_parts(self.tok, content_free)[0])
            shift = log_odds(runner.score([cf], [branches], [*yes, *no])[0].next)
        found = runner.score(stems, [branches] * len(stems), [*yes, *no])
        out = []
        for stem, scores in zip(stems, found, strict=True):
            p_yes = 1 / (1 + np.exp(-(log_odds(scores.next) - shift)))
            chosen = [c for c, p in zip(self.book.codes, p_yes, strict=True) if p > 0.5]
            out.append(Scored(frozenset(chosen),
                              dict(zip(self.book.codes, map(float, p_yes), strict=True)),
                              prompt_tokens=len(stem)))
        if self.book.graded:
            self._levels(runner, stems, out, tail)
        return out

    def _levels(self, runner: Stems, stems: list[list[int]], out: list[Scored],
                tail: str) -> None:
        """Each present code's intensity: its question, then each level's answer."""
        said = [self.ids(level) for level in self.book.intensities]
        asks = {c: self.ids(self._question(c, intensity=True) + tail) for c in self.book.codes}
        todo = [i for i, s in enumerate(out) if s.labels]
        plans = [sorted(out[i].labels, key=self.book.codes.index) for i in todo]
        found = runner.score([stems[i] for i in todo],
                             [[asks[c] + s for c in codes for s in said] for codes in plans])
        n = len(said)
        for i, codes, scores in zip(todo, plans, found, strict=True):
            values = []
            for a, code in enumerate(codes):
                sums = np.array([sum(scores.tokens[a * n + k][-len(said[k]):])
                                 for k in range(n)])
                level = self.book.intensities[int(np.argmax(sums))]
                values.append(f"{code}:{level}")
                out[i].intensities[code] = dict(zip(self.book.intensities,
                                                    map(float, _softmax(sums)), strict=True))
            out[i].labels = frozenset(values)

    def matrix(self, scored: Sequence[Scored]) -> np.ndarray:
        """Scores (n, len(book.values)): P(label), graded P(label) x P(intensity | label)."""
        values = self.book.values
        out = np.zeros((len(scored), len(values)), dtype=np.float32)
        for i, s in enumerate(scored):
            for j, v in enumerate(values):
                if self.book.graded:
                    code, _, level = v.rpartition(":")
                    out[i, j] = s.probabilities[code] * s.intensities.get(code, {}).get(
                        level, 0.0)
                else:
                    out[i, j] = s.probabilities[v]
        return out
