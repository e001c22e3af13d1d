"""A prompt prefix computed once gives the answers the whole prompts give (embedded model)."""

from __future__ import annotations

import pytest

from replicoder.labels.codebook import load
from replicoder.models import resolve
from replicoder.models.base import load_causal_lm, load_tokenizer
from replicoder.models.generation import generate
from replicoder.models.generative import GenerativeScorer, zero_shot_instruction
from replicoder.models.prefix import MIN_PREFIX, PrefixCache, shared_prefix

TITLES = ["To amend the Internal Revenue Code to extend the credit for biodiesel",
          "A bill to provide grants for school construction",
          "Veterans health care act",
          "To authorize appropriations for the Coast Guard for fiscal year 1998",
          "To prohibit discrimination in employment on the basis of sexual orientation",
          "Farm credit"]


def test_shared_prefix_leaves_each_prompt_a_token() -> None:
    assert shared_prefix([]) == 0
    assert shared_prefix([[1, 2, 3, 4], [1, 2, 9]]) == 2
    assert shared_prefix([[1, 2, 3], [1, 2, 3, 4]]) == 2  # not all of the shorter one
    assert shared_prefix([[5], [5]]) == 0
    assert shared_prefix([[1, 2], [3, 2]]) == 0


@pytest.fixture(scope="module")
def scorer() -> GenerativeScorer:
    base = resolve("embedded")
    tok, model = load_tokenizer(base), load_causal_lm(base, device="cpu").eval()
    book = load("cap")
    return GenerativeScorer(model, tok, book, zero_shot_instruction(book), 64, 12, "cpu",
                            False)


def test_prefix_cache_answers_as_whole_prompts(scorer: GenerativeScorer) -> None:
    prompts = [scorer.prompt_ids(t) for t in TITLES]
    n = shared_prefix(prompts)
    assert n > 100 and all(len(p) > n for p in prompts)  # the codebook, then the title
    kw = {"max_new_tokens": 12, "batch_size": 4, "eos_token_id": scorer.tokenizer.eos_token_id}
    whole = generate(scorer.model, scorer.tokenizer, prompts, share_prefix=False, **kw)
    shared = generate(scorer.model, scorer.tokenizer, prompts, **kw)
    assert [g.text for g in shared] == [g.text for g in whole]
    assert [g.prompt_tokens for g in shared] == [len(p) for p in prompts]
    assert [g.completion_tokens for g in shared] == [g.completion_tokens for g in whole]
    assert len({g.text for g in shared}) > 1  # the titles, not just the prefix, were read


def test_no_cache_where_it_cannot_pay(scorer: GenerativeScorer) -> None:
    prompts = [scorer.prompt_ids(t) for t in TITLES[:2]]
    assert PrefixCache.of(scorer.model, prompts[:1], False) is None  # one prompt
    short = [[7] * (MIN_PREFIX - 1) + [1, 2], [7] * (MIN_PREFIX - 1) + [3]]
    assert PrefixCache.of(scorer.model, short, False) is None
    cache = PrefixCache.of(scorer.model, prompts, False)
    assert cache is not None and cache.prefix == prompts[0][:shared_prefix(prompts)]
