"""The local backend with the real embedded model, Ctrl-C and resume, --plan and the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_annotate_support import (
    Scripted,
    annotate_until,
    bills_study,
    completion,
    scripted_server,
)
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.annotate.backends.local_hf import LocalBackend
from replicoder.annotate.config import AnnotatorConfig, add_annotator
from replicoder.annotate.jobs import choose_documents, request_key
from replicoder.annotate.planning import plan
from replicoder.annotate.runner import annotate
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.models.tiny import build_tiny

SMOL = AnnotatorConfig(name="smol", template="short", max_tokens=8, batch_size=2, threads=1,
                       answer="generate")


def with_smol(study: study_mod.Study, **kw: object) -> study_mod.Study:
    add_annotator(study, AnnotatorConfig(**{**SMOL.public(), **kw}),  # type: ignore[arg-type]
                  replace=True)
    return study_mod.open_study(study.root)


def test_embedded_model_annotates_and_a_rerun_sends_nothing(tmp_path: Path) -> None:
    st = with_smol(bills_study(tmp_path, 3), batch_size=3)
    first = annotate(st)
    (row,) = first.annotators
    assert (row.documents, row.sent, row.cached) == (3, 3, 0)
    assert row.ok + row.unparsed == 3 and row.input_tokens > 3 * 150
    assert 3 <= row.output_tokens <= 3 * 8
    with st.store() as store:
        before = store.proposals(annotator="smol")
        assert len(store.cached([p.provenance["request_key"] for p in before])) == 3
    assert all(p.raw and p.provenance["model_id"].startswith("embedded@") for p in before)
    second = annotate(st)
    assert (second.annotators[0].sent, second.annotators[0].cached) == (0, 3)
    with st.store() as store:
        assert store.proposals(annotator="smol") == before
        runs = store.list_runs("annotate")
    manifest = json.loads(first.manifest_path.read_text("utf-8"))
    assert manifest["status"] == "finished" and len(runs) == 2
    assert manifest["codebook_sha256"] == st.codebook.sha256
    assert len(manifest["documents"]["sha256"]) == 64 and manifest["documents"]["count"] == 3
    (ann,) = manifest["annotators"]
    assert ann["template_name"] == "short" and "{{ text }}" in ann["template_source"]
    assert ann["seed"] == 0 and manifest["versions"]["transformers"]


def test_sampling_with_temperature_is_seeded(tmp_path: Path) -> None:
    tiny = build_tiny(tmp_path / "tiny")  # plumbing only: a random model of the same kind
    messages = [{"role": "user", "content": "Name a colour."}]
    backend = LocalBackend(AnnotatorConfig(name="hot", model=str(tiny), temperature=1.0,
                                           seed=3, max_tokens=6))
    assert backend.model_id.startswith(f"{tiny}@")
    first = [r.text for r in backend.complete_batch([messages, messages])]
    assert [r.text for r in backend.complete_batch([messages, messages])] == first
    assert all(first)


def test_ctrl_c_keeps_finished_answers_and_the_rerun_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 8
    st = bills_study(tmp_path, n)
    # 1 s an answer: the 6 left take 3 s, time for the Ctrl-C on a loaded machine (at 0.3 s
    # the job once finished before it arrived)
    script = Scripted([(200, completion('{"labels": ["5"]}'), {"x-sleep": "1.0"})] * 100)
    with scripted_server(script) as url:
        add_annotator(st, AnnotatorConfig(name="api", backend="openai", model="m",
                                          base_url=url, max_concurrency=2))
        proc = annotate_until(st, 2, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
        ended_before = proc.poll()  # the signal must find the job running
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (ended_before, len(script.requests), out, err)
        assert "interrupted: finished answers are saved" in err
        with st.store() as store:
            kept = {p.provenance["request_key"] for p in store.proposals(annotator="api")}
            (run,) = store.list_runs("annotate")
        assert 2 <= len(kept) < n and run["manifest"]["status"] == "interrupted"
        sent_before = len(script.requests)
        summary = annotate(study_mod.open_study(st.root))
    (row,) = summary.annotators
    assert (row.cached, row.sent, row.documents, row.ok) == (len(kept), n - len(kept), n, n)
    resent = [r for r in script.requests[sent_before:] if request_key(
        "openai", "m", r["messages"], {"temperature": 0.0, "seed": 0, "max_tokens": 64,
                                    "structured": True}) in kept]
    assert resent == []  # nothing that had an answer was asked again


def test_plan_counts_requests_tokens_cost_and_time_without_sending(tmp_path: Path) -> None:
    st = bills_study(tmp_path, 5)
    add_annotator(st, AnnotatorConfig(
        name="gpt", backend="openai", model="gpt-x", base_url="http://127.0.0.1:9/v1",
        api_key_env="REPLICODER_TEST_UNSET_KEY", requests_per_minute=2, max_tokens=10,
        price_input_per_1k=1.0, price_output_per_1k=3.0))
    st = with_smol(st)
    rows = plan(st, limit=4)
    gpt = rows[0]
    assert (gpt.documents, gpt.cached, gpt.requests) == (4, 0, 4)
    assert 4 * 800 < gpt.input_tokens < 4 * 1500  # the default prompt, with descriptions
    assert gpt.output_tokens == 40 and gpt.seconds == pytest.approx(120)
    assert gpt.cost == pytest.approx(gpt.input_tokens / 1000 + 40 * 3 / 1000)
    assert rows[1].annotator == "smol" and rows[1].seconds is None
    assert rows[1].input_tokens < gpt.input_tokens / 2  # the short prompt
    with st.store() as store:
        assert store.cached([]) == {} and store.cache_totals() == {}
    result = CliRunner().invoke(app, ["annotate", "--plan", "--limit", "4", "--study",
                                      str(st.root)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "gpt-x" in result.output and "2.0 min" in result.output
    assert "runs locally" in result.output


def test_cli_errors_and_help(tmp_path: Path) -> None:
    st = with_smol(bills_study(tmp_path, 2))
    runner = CliRunner()
    help_text = runner.invoke(app, ["annotate", "--help"], env={"COLUMNS": "200"}).output
    assert "Example: replicoder annotate" in help_text and "--plan" in help_text
    with pytest.raises(ReplicoderError, match="unknown annotator 'nope'; the study has: smol"):
        annotate(st, ["nope"])
    with pytest.raises(ReplicoderError, match="--limit must be at least 1"):
        annotate(st, limit=0)
    broken = with_smol(st, model="/nonexistent/x.gguf")
    with pytest.raises(ReplicoderError, match="annotator 'smol': model /nonexistent/x.gguf: no"):
        annotate(broken)
    added = runner.invoke(app, ["add-annotator", "served", "--backend", "openai", "--model",
                                "embedded", "--base-url", "http://127.0.0.1:8000/v1",
                                "--study", str(st.root)])
    assert added.exit_code == 0, added.output
    assert 'base_url = "http://127.0.0.1:8000/v1"' in (st.root / "replicoder.toml").read_text()
    bad = subprocess.run([sys.executable, "-m", "replicoder.cli", "add-annotator", "x",
                          "--backend", "gemini", "--study", str(st.root)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "field 'backend' must be one of openai, local" in bad.stderr


def test_sample_and_limit_choose_documents_reproducibly(tmp_path: Path) -> None:
    st = bills_study(tmp_path, 30)
    with st.store() as store:
        a = choose_documents(store, None, 10, 1)
        assert a == choose_documents(store, None, 10, 1) != choose_documents(store, None, 10, 2)
        assert choose_documents(store, 3, 10, 1) == a[:3]
        assert choose_documents(store, 5, None, 0) == store.doc_ids()[:5]
