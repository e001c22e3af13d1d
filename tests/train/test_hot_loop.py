"""The hot loops run without host syncs (issue 26): operators that make the host wait for
the device (``.item()``, ``bool(tensor)``, data-dependent shapes...) are counted under a
TorchDispatchMode over training steps of both modes and over classify windows, and the
padding mask left out of right-padded causal batches changes no real token's output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from paths import BILLS
from test_splits import make_study
from torch.utils._python_dispatch import TorchDispatchMode

from replicoder import study as study_mod
from replicoder.models.base import load_sequence_classifier, load_tokenizer, resolve
from replicoder.models.fastpath import (
    SYNC_OPS,
    needs_padding_mask,
    pad_right,
    use_causal_attention,
)
from replicoder.models.runtime import autocast
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)

# frames of the training loop that read the device on purpose: the every-N loss read,
# validation, checkpoints and keeping the best weights; the CPU's per-tensor AdamW (cuda
# uses the fused one: test_fused_adamw_steps_without_a_sync)
ALLOWED = {"flush", "evaluate", "save", "_trainable", "_load_trainable"}


class SyncCounter(TorchDispatchMode):
    """Records each sync-forcing operator with the names of the Python frames above it."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[tuple[str, list[tuple[str, str]]]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        if func._schema.name in SYNC_OPS:
            frames = []
            frame = sys._getframe(1)
            while frame is not None:
                frames.append((frame.f_code.co_filename, frame.f_code.co_name))
                frame = frame.f_back  # type: ignore[assignment]
            self.hits.append((func._schema.name, frames))
        return func(*args, **(kwargs or {}))

    def in_steps(self) -> list[str]:
        """Sync operators inside the training loop's steps (not in its allowed reads)."""
        bad = []
        for name, frames in self.hits:
            names = {n for _, n in frames}
            in_loop = any(f.endswith("loop.py") and n == "run" for f, n in frames)
            optimizer = any("torch/optim" in f for f, _ in frames)
            if in_loop and not names & ALLOWED and not optimizer:
                bad.append(f"{name} via {' < '.join(n for _, n in frames[:8])}")
        return bad

    def within(self, function: str) -> list[str]:
        return [name for name, frames in self.hits if any(n == function for _, n in frames)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(build_tiny(tmp_path_factory.mktemp("tiny") / "model"))


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> study_mod.Study:
    df = pd.read_csv(BILLS)
    rows = df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(15)
    return make_study(tmp_path_factory.mktemp("hot") / "study", rows)


def _right_padded(tok: Any) -> tuple[Any, Any, list[int]]:
    import torch

    texts = ["hello world", "a much longer title here, for padding and more", "x y"]
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    tokens, lengths = pad_right(ids, tok.pad_token_id)
    mask = torch.arange(tokens.shape[1])[None, :] < torch.from_numpy(lengths)[:, None]
    return torch.from_numpy(tokens), mask.long(), lengths.tolist()


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("bf16", [False, True])
def test_the_padding_mask_changes_no_real_token(tiny: str, attention: str,
                                                bf16: bool) -> None:
    import torch

    base = resolve(tiny)
    tok = load_tokenizer(base)
    model = load_sequence_classifier(base, 3, multi_label=False, device="cpu",
                                     attention=attention,
                                     dtype=torch.bfloat16 if bf16 else None).eval()
    ids, mask, lengths = _right_padded(tok)
    with torch.inference_mode(), autocast("cpu", bf16):
        masked = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = model(input_ids=ids, attention_mask=mask).logits
        assert needs_padding_mask(model)
        assert use_causal_attention(model) == (attention == "sdpa")
        assert needs_padding_mask(model) == (attention == "eager")
        bare = model.model(input_ids=ids).last_hidden_state
        assert torch.equal(pooled, model(input_ids=ids).logits)
    for row, n in enumerate(lengths):
        assert torch.equal(masked[row, :n], bare[row, :n])  # exactly, not approximately


def test_the_scorer_gives_the_logits_of_tokenizer_padding_with_a_mask(tiny: str) -> None:
    import torch

    from replicoder.models.classifier import ClassifierScorer

    base = resolve(tiny)
    tok = load_tokenizer(base)
    tok.padding_side = "right"
    model = load_sequence_classifier(base, 3, multi_label=False, device="cpu").eval()
    scorer = ClassifierScorer(model, tok, False, 32, "cpu", True)
    ids = scorer.encode(["hello world", "a much longer title here, for padding", "x"]).windows
    with torch.inference_mode(), autocast("cpu", True):
        batch = tok.pad({"input_ids": ids}, return_tensors="pt")  # the path before
        before = model(**batch).logits.float()
    with torch.inference_mode():
        after = scorer.logits(ids)
    assert not needs_padding_mask(model)
    assert torch.equal(before, after)


def test_causal_attention_is_switched_back_for_generation(tiny: str) -> None:
    from replicoder.models.base import load_causal_lm
    from replicoder.models.fastpath import causal_attention

    model = load_causal_lm(resolve(tiny), device="cpu")
    with causal_attention(model) as bare:  # generative training's right-padded batches
        assert bare and not needs_padding_mask(model)
    assert needs_padding_mask(model)  # generate() pads on the left: it needs the mask
    assert model.config._attn_implementation == "sdpa"


def test_the_counter_sees_the_sync_of_a_masked_forward(tiny: str) -> None:
    import torch

    base = resolve(tiny)
    tok = load_tokenizer(base)
    model = load_sequence_classifier(base, 3, multi_label=False, device="cpu").eval()
    ids, mask, _ = _right_padded(tok)
    with torch.inference_mode():
        with SyncCounter() as masked:
            model(input_ids=ids, attention_mask=mask)
        with SyncCounter() as bare:
            model(input_ids=ids)
        with SyncCounter() as item:
            torch.ones(2).sum().item()
    assert masked.hits  # transformers' `if padding_mask.all()` reads the device
    assert not bare.hits
    assert [n for n, _ in item.hits] == ["aten::item"]


def test_fused_adamw_steps_without_a_sync() -> None:
    import torch

    params = [torch.nn.Parameter(torch.randn(4, 4)) for _ in range(3)]
    opt = torch.optim.AdamW(params, lr=1e-3, fused=True)
    for _ in range(3):
        with SyncCounter() as counter:
            sum(p.square().sum() for p in params).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        assert not counter.hits


@pytest.mark.parametrize("mode", ["classifier", "generative"])
def test_no_sync_inside_training_steps(tiny: str, study: study_mod.Study, mode: str
                                       ) -> None:
    config = TrainConfig(base=tiny, mode=mode, epochs=2, batch_size=4, device="cpu",
                         precision="bf16", max_length=32)
    with SyncCounter() as counter:
        result = train(study, f"sync-{mode}", config)
    assert result.metrics["steps"] >= 10
    assert counter.in_steps() == []


def _windows(texts: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(texts), size):
        yield texts[i:i + size]


def test_no_sync_in_classify_windows(tiny: str, study: study_mod.Study,
                                     tmp_path: Path) -> None:
    from replicoder.classify import classify
    from replicoder.classify.inference import load_model
    from replicoder.models.classifier import ClassifierScorer

    name = "sync-classify"
    train(study, name, TrainConfig(base=tiny, epochs=1, batch_size=8, device="cpu"))
    scorer = load_model(study, name).scorer
    assert isinstance(scorer, ClassifierScorer)
    texts = pd.read_csv(BILLS).text.head(96).tolist()
    with SyncCounter() as counter:
        launched = [scorer.launch(scorer.prepare(scorer.encode(w), 16))
                    for w in _windows(texts, 48)]
    assert counter.hits == []
    assert sum(len(scorer.collect(x)) for x in launched) == 96
    corpus = tmp_path / "c.csv"
    pd.read_csv(BILLS).head(200).to_csv(corpus, index=False)
    with SyncCounter() as whole:
        classify(study, name, tmp_path / "out.parquet", input=corpus, id_column="id",
                 batch_size=16, checkpoint_every=50, device="cpu")
    assert whole.within("launch") == []


def test_no_sync_in_sdpa_classifier_steps_as_on_cuda(tiny: str, tmp_path: Path) -> None:
    """The cuda configuration (SDPA, bf16 base under autocast) run on the CPU."""
    import torch

    from replicoder.models.classifier import ClassifierScorer
    from replicoder.models.fastpath import skip_input_casts
    from replicoder.train import loop

    base = resolve(tiny)
    tok = load_tokenizer(base)
    config = TrainConfig(base=tiny, epochs=1, batch_size=4)
    body = load_sequence_classifier(base, 3, multi_label=False, device="cpu",
                                    dtype=torch.bfloat16)
    model = config.with_lora(body, "SEQ_CLS")
    assert skip_input_casts(model) > 0
    scorer = ClassifierScorer(model, tok, False, 32, "cpu", True)
    texts = pd.read_csv(BILLS).text.head(48).tolist()
    ids = scorer.encode(texts).windows
    y = torch.arange(48) % 3

    def step_loss(batch: list[int]) -> Any:
        return torch.nn.functional.cross_entropy(scorer.logits([ids[i] for i in batch]),
                                                 y[torch.tensor(batch)])

    with SyncCounter() as counter:
        result = loop.run(model, [len(x) for x in ids], step_loss, lambda: (0.5, {}),
                          config, tmp_path)
    assert result.steps == 12 and not needs_padding_mask(model)
    assert counter.in_steps() == []


def test_compile_counts_its_compilations_and_odd_batches_do_not_recompile(
        tiny: str, study: study_mod.Study, monkeypatch: pytest.MonkeyPatch) -> None:
    # dynamo traces as on a GPU; the "eager" backend skips inductor's C++ build on a CPU
    monkeypatch.setenv("REPLICODER_COMPILE_BACKEND", "eager")
    config = TrainConfig(base=tiny, epochs=2, batch_size=7, device="cpu", compile=True)
    result = train(study, "compiled", config)
    # one graph for training steps, one for validation under inference mode: odd-sized
    # last batches and other lengths reuse them (dynamic dims, width buckets)
    assert 1 <= result.metrics["compilations"] <= 6, result.metrics
    # training and validation graphs are compiled before the timed loop, none inside it
    assert result.metrics["compilations_in_loop"] == 0, result.metrics
