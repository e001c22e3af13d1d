"""Packed branch scoring on a sliding-window model (Gemma 3's layout, tiny and random):
one mask per layer type gives the log-probabilities of whole sequences, and only the rows
read get the vocabulary projection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from replicoder.models.branches import QUERY_TOKENS, Stems, _query_tokens, _window_masks


@pytest.fixture(scope="module")
def gemma() -> Any:
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=300, hidden_size=32, intermediate_size=64,
                              num_hidden_layers=4, num_attention_heads=2,
                              num_key_value_heads=1, head_dim=16, sliding_window=8,
                              layer_types=["sliding_attention", "full_attention"] * 2,
                              max_position_embeddings=256)
    config._attn_implementation = "sdpa"
    return Gemma3ForCausalLM(config).eval()


def whole(model: Any, ids: list[int]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits.float(), -1).numpy()


@pytest.mark.parametrize("prefix_len", [30, 5])  # longer and shorter than the window
def test_windowed_packed_branches_score_as_whole_sequences(gemma: Any, prefix_len: int
                                                           ) -> None:
    assert _window_masks(gemma)
    prefix = list(range(100, 100 + prefix_len))
    stems = [prefix + [7, 8, 9], prefix + [11], prefix + [12, 13, 14, 15, 16, 17, 18, 19]]
    branches = [[5], [6, 7, 8, 9, 10, 11, 12, 13, 14], [9, 10]]
    runner = Stems(gemma, stems)
    assert runner.head == (prefix_len if prefix_len >= 16 else 0)
    found = runner.score(stems, [branches] * 3, next_ids=[3, 4])
    for stem, scores in zip(stems, found, strict=True):
        for b, got, nxt in zip(branches, scores.tokens, scores.next, strict=True):
            lp = whole(gemma, stem + b)
            want = [lp[len(stem) - 1 + j, t] for j, t in enumerate(b)]
            assert np.allclose(got, want, atol=1e-4)
            assert np.allclose(nxt, lp[len(stem) + len(b) - 1, [3, 4]], atol=1e-4)
    # the one-stem path (its cache copied per branch) agrees
    again = runner.open(stems[2]).score(branches)
    assert np.allclose(np.concatenate(again.tokens), np.concatenate(found[2].tokens),
                       atol=1e-4)


def test_a_large_vocabulary_packs_fewer_tokens(gemma: Any) -> None:
    assert _query_tokens(gemma) == QUERY_TOKENS
    gemma.config.vocab_size = 262144
    try:
        assert _query_tokens(gemma) == 256
    finally:
        gemma.config.vocab_size = 300
