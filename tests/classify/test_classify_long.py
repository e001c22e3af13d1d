"""Long documents in classify, evaluate, zero-shot and annotate prompts: nothing is cut
silently; chunked models read documents whole, resume after a kill with windows, and
score a 100,000-word document in bounded memory. Tiny random model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from killing import kill_after_parts
from long_docs import long_models
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.annotate.config import AnnotatorConfig
from replicoder.annotate.jobs import Annotator
from replicoder.classify import ClassifyStopped, classify
from replicoder.cli import app
from replicoder.evaluate import evaluate_models, load_parts, model_source
from replicoder.models.generative import GenerativeScorer
from replicoder.models.scored import ZeroShotScorer

pytestmark = pytest.mark.timeout(600)

Trained = tuple[study_mod.Study, Path, str]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """:func:`long_docs.long_models`."""
    return long_models(tmp_path_factory.mktemp("long"))


def test_classify_counts_marks_and_warns_about_cut_documents(
        tmp_path: Path, trained: Trained) -> None:
    st, corpus, _ = trained
    result = classify(st, "cut", tmp_path / "cut.parquet", input=corpus, id_column="id",
                      checkpoint_every=15)
    out = pd.read_parquet(tmp_path / "cut.parquet")
    assert out.cut.sum() == 39 and not out.cut.iloc[0]
    assert result.cut == 39
    entry = result.manifest["cut"]
    assert entry == {"documents": 39, "share": 39 / 40, "max_length": 24, "long": "truncate"}
    assert result.cut_warning is not None and "39 of 40 documents (97.5%)" in \
        result.cut_warning and "--long chunk" in result.cut_warning
    whole = classify(st, "whole", tmp_path / "whole.parquet", input=corpus, id_column="id")
    assert whole.cut == 0 and whole.cut_warning is None
    assert not pd.read_parquet(tmp_path / "whole.parquet").cut.any()


def test_cli_warns_once_with_the_share_cut(tmp_path: Path, trained: Trained) -> None:
    st, corpus, _ = trained
    res = CliRunner().invoke(app, ["classify", str(corpus), "--model", "cut", "--out",
                                   str(tmp_path / "o.csv"), "--id", "id",
                                   "--checkpoint-every", "10", "--study", str(st.root)],
                             env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    assert res.output.count("were longer than the model's 24 tokens and were cut") == 1


def test_chunked_job_resumes_after_a_stop_and_a_kill(tmp_path: Path, trained: Trained
                                                     ) -> None:
    st, corpus, _ = trained
    out = tmp_path / "stopped.parquet"
    with pytest.raises(ClassifyStopped, match="after 10 documents"):
        classify(st, "whole", out, input=corpus, id_column="id", checkpoint_every=5,
                 batch_size=4, stop_after=2)
    resumed = classify(st, "whole", out, input=corpus, id_column="id", checkpoint_every=5,
                       batch_size=4)
    assert resumed.resumed_from == 10 and resumed.documents == 40
    whole = classify(st, "whole", tmp_path / "once.parquet", input=corpus, id_column="id",
                     checkpoint_every=5, batch_size=4)
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(whole.out))
    killed = tmp_path / "killed.parquet"
    cmd = [sys.executable, "-m", "replicoder.cli", "classify", str(corpus), "--model", "whole",
           "--out", str(killed), "--id", "id", "--checkpoint-every", "2", "--batch-size", "2",
           "--study", str(st.root)]
    kill_after_parts(cmd, tmp_path / "killed.parquet.parts", timeout=300)
    again = classify(st, "whole", killed, input=corpus, id_column="id", checkpoint_every=2,
                     batch_size=2)
    assert 0 < again.resumed_from < 40 and again.documents == 40
    got = pd.read_parquet(killed)
    assert got.id.tolist() == pd.read_csv(corpus).id.tolist()
    pd.testing.assert_series_equal(got.labels, pd.read_parquet(whole.out).labels)


MEMORY = """
import resource, sys, time
from replicoder.classify.inference import load_model
model = load_model(sys.argv[1], "whole", device="cpu")
words = int(sys.argv[2])
text = " ".join(["budget", "health", "report", "energy"] * (words // 4))
start = time.perf_counter()
pred = model.predict([text], ["one"], batch_size=16)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - start,
      pred.provenance["cut"][0])
"""


def test_a_100000_word_document_is_read_whole_in_bounded_memory(trained: Trained) -> None:
    st, _, _ = trained
    peak = {}
    for words in (2_000, 100_000):
        done = subprocess.run([sys.executable, "-c", MEMORY, str(st.root), str(words)],
                              capture_output=True, text=True, timeout=500,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert done.returncode == 0, done.stderr[-2000:]
        rss, _seconds, cut = done.stdout.split()
        peak[words] = int(rss) / 1024  # MiB
        assert cut == "False"
    # 50 times the text (about 6,700 windows) costs little more than the token ids
    assert peak[100_000] - peak[2_000] < 150, peak


def test_evaluate_counts_the_documents_each_model_cut(trained: Trained) -> None:
    st, _, _ = trained
    result = evaluate_models(st, ["cut", "whole"], n_boot=10)
    assert result["models"]["cut"]["cut"]["test"] == result["documents"]["test"]["n"]
    assert result["models"]["cut"]["max_length"] == 24
    assert result["models"]["whole"]["cut"]["test"] == 0
    assert result["models"]["whole"]["long"] == "chunk"


def test_zero_shot_prompts_fit_the_context_and_say_when_cut(trained: Trained) -> None:
    st, _, tiny = trained
    predict, info = model_source(st, f"zero-shot:{tiny}")
    # the tiny model's context (2,048) less the prompt, which shows the whole codebook
    assert 500 < info["max_length"] < 2048
    from replicoder.models import zero_shot
    from replicoder.models.prompt_budget import rendered

    scorer = zero_shot(st, tiny)  # label scoring, the default
    assert isinstance(scorer, ZeroShotScorer) and scorer.max_length == info["max_length"]
    huge = "word " * 5000
    messages = scorer.messages(huge)
    assert rendered(scorer.tokenizer, messages) + scorer.scorer.longest_answer() <= 2048
    assert "did not fit the model's context]" in json.dumps(messages)
    assert scorer.cuts([huge, "short"]) == [True, False]
    generating = zero_shot(st, tiny, answer="generate")
    assert isinstance(generating, GenerativeScorer)
    ids = generating.prompt_ids(huge)
    assert len(ids) + generating.max_new_tokens <= 2048
    assert "did not fit the model's context]" in generating.tokenizer.decode(ids)
    docs = load_parts(st, ["test"])["test"]
    docs.texts[0] = huge
    predict(docs.only(docs.doc_ids[:2]))
    assert info["cut"] == {"test": 1}


def test_local_annotator_prompts_cut_long_documents_with_a_note(trained: Trained) -> None:
    st, _, tiny = trained
    ann = Annotator(st, AnnotatorConfig(name="t", model=tiny, max_tokens=8))
    jobs = ann.jobs([("long", "word " * 5000), ("short", "a short text")])
    long, short = jobs
    assert long.cut_tokens > 2500 and short.cut_tokens == 0
    assert "did not fit the model's context]" in long.messages[0]["content"]
    assert "a short text" in short.messages[0]["content"]
    tok = ann.backend.fit_document(ann.template.render(st.codebook, ""))[0]  # type: ignore[attr-defined]
    rendered = tok.apply_chat_template(long.messages, add_generation_prompt=True,
                                       tokenize=False)
    assert len(tok(rendered, add_special_tokens=False)["input_ids"]) + 8 <= 2048
    assert json.dumps(long.messages)  # plain data, cacheable
