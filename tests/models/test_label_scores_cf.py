"""The content-free prompt scored in the documents' packed passes gives the scores it gets
scored alone (tiny random model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from replicoder.labels.codebook import load
from replicoder.labels.prompts import load_template
from replicoder.models.base import load_causal_lm, load_tokenizer, resolve
from replicoder.models.label_scores import LabelScorer, Variant
from replicoder.models.tiny import build_tiny


def test_content_free_scores_ride_along_unchanged(tmp_path: Path) -> None:
    base = resolve(str(build_tiny(tmp_path / "tiny")))
    model, tok = load_causal_lm(base, device="cpu").eval(), load_tokenizer(base)
    book = load("cap")
    template = load_template("short", Path("."))
    prompts = [template.render(book, t) for t in ("Farm credit", "Veterans health care")]
    empty = template.render(book, "")
    scorer = LabelScorer(model, tok, book, Variant.parse("name-mean-cf"), json_answers=True)
    rows, cf, _ = scorer.rows(prompts, empty)
    alone, _, _ = LabelScorer(model, tok, book, Variant.parse("name-mean"),
                              json_answers=True).rows([empty])
    assert cf is not None and len(cf) == len(book.codes)
    assert np.allclose(np.concatenate(cf), np.concatenate(alone[0]), atol=1e-4)
    assert scorer.rows(prompts[:1], empty)[1] is cf  # computed once per scorer
