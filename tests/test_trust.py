"""Issue 12: hostile inputs to prompts, training resume, annotator settings, readers,
codebooks and the importer. Every bad input gets a ReplicoderError, never a traceback."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from replicoder import importer
from replicoder import study as study_mod
from replicoder.annotate.config import AnnotatorConfig, parse_annotator
from replicoder.errors import ReplicoderError
from replicoder.labels import codebook
from replicoder.labels.codebook import load
from replicoder.labels.prompts import PromptTemplate
from replicoder.study import Study

CAP = load("cap")


class _Touch:
    """A pickle that creates a file when loaded: stands in for any code a pickle may run."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.target),))  # type: ignore[return-value]


def test_prompt_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = ("{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"
              "{{ text }}")
    with pytest.raises(ReplicoderError, match="prompt template evil"):
        PromptTemplate("evil", source, True).render(CAP, "doc")
    assert not marker.exists()


def test_training_checkpoint_is_loaded_without_running_pickles(tmp_path: Path) -> None:
    import torch

    from replicoder.train.loop import _load_checkpoint

    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(pickle.dumps({"step": 1, "x": _Touch(marker)}))
    with pytest.raises(ReplicoderError, match="Delete it"):
        _load_checkpoint(torch, path)
    assert not marker.exists()
    good = tmp_path / "good.pt"
    torch.save({"step": 3, "rng": torch.get_rng_state(), "history": [{"a": 1.0}]}, good)
    assert _load_checkpoint(torch, good)["step"] == 3


@pytest.mark.parametrize("url", ["http://example.org/v1", "http://10.0.0.5:8000/v1"])
def test_plain_http_to_another_host_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ReplicoderError, match="plain http"):
        parse_annotator({"name": "x", "backend": "openai", "base_url": url}, "a")
    ok = parse_annotator({"name": "x", "backend": "openai", "base_url": url,
                          "allow_http": True}, "a")
    assert ok.allow_http
    for local in ("http://127.0.0.1:8000/v1", "http://localhost/v1", "http://[::1]:9/v1"):
        parse_annotator({"name": "x", "backend": "openai", "base_url": local}, "a")


def test_the_host_receiving_the_key_is_named_before_any_request(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from replicoder.annotate.backends.openai_http import OpenAIBackend

    monkeypatch.setenv("TRUST_TEST_KEY", "sk-secret")
    said: list[str] = []
    cfg = AnnotatorConfig(name="g", backend="openai", model="m",
                          base_url="https://api.example.com/v1", api_key_env="TRUST_TEST_KEY")
    backend = OpenAIBackend(cfg, notify=said.append)
    backend.client()
    assert len(said) == 1 and "'api.example.com'" in said[0] and "TRUST_TEST_KEY" in said[0]
    assert "sk-secret" not in said[0]
    backend.client()
    assert len(said) == 1


# --- readers and importer (items 2, 6, 12, 13, 17) ---

def _study(tmp_path: Path, codebook: str = "cap", multi: bool = False) -> Study:
    return study_mod.init(tmp_path / "study", codebook, multi_label=multi)


def test_stray_quote_at_the_end_fails_with_the_row(tmp_path: Path) -> None:
    st = _study(tmp_path)
    rows = [f'{i},"bill number {i}"' for i in range(1, 1001)]
    rows[10] = '11,"bill number 11 with a "stray quote'
    path = tmp_path / "docs.csv"
    path.write_text("id,text\n" + "\n".join(rows) + "\n", "utf-8")
    with pytest.raises(ReplicoderError, match=r"row 11 \(line 12\).*malformed"):
        importer.import_file(st, path, text="text", id="id")
    path.write_text('id,text\n1,"ok"\n2,"open quote never closes\n3,x\n4,y\n', "utf-8")
    with pytest.raises(ReplicoderError, match=r"row 2 \(line 3\): a quoted field .* never "
                                              r"closes"):
        importer.import_file(st, path, text="text", id="id")
    with st.store() as store:
        assert store.count_documents() == 0


def test_a_quoted_field_that_swallowed_rows_is_refused(tmp_path: Path) -> None:
    st = _study(tmp_path)
    body = "\n".join(f"{i},bill {i}" for i in range(3, 40))
    path = tmp_path / "docs.csv"
    path.write_text(f'id,text\n1,a\n2,"stray\n{body}\n40,end"\n41,b\n', "utf-8")
    with pytest.raises(ReplicoderError, match=r"row 2 \(line 3\): field 'text' spans"):
        importer.import_file(st, path, text="text", id="id")
    prose = "\n".join(f"paragraph {i} of a long speech." for i in range(40))
    path.write_text(f'id,text\n1,"{prose}"\n', "utf-8")
    assert importer.import_file(st, path, text="text", id="id").added == 1


def test_duplicate_header_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    path.write_text("id,text,text\n1,a,b\n", "utf-8")
    with pytest.raises(ReplicoderError, match="names column 'text' twice"):
        importer.import_file(_study(tmp_path), path, text="text", id="id")


@pytest.mark.parametrize("value", [["a", "b"], {"x": 1}, 3.5])
def test_parquet_text_of_the_wrong_type_is_refused(tmp_path: Path, value: object) -> None:
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["1"], "text": [value]}), path)
    with pytest.raises(ReplicoderError, match=r"row 1: column 'text' holds a"):
        importer.import_file(_study(tmp_path), path, text="text", id="id")


def test_jsonl_list_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"id": [1], "text": "a"}) + "\n", "utf-8")
    with pytest.raises(ReplicoderError, match=r"line 1: column 'id' holds a list"):
        importer.import_file(_study(tmp_path), path, text="text", id="id")


def test_bad_gzip_encoding_and_utf16_give_messages(tmp_path: Path) -> None:
    st = _study(tmp_path)
    plain = tmp_path / "plain.csv.gz"
    plain.write_text("id,text\n1,a\n", "utf-8")
    with pytest.raises(ReplicoderError, match="not valid gzip"):
        importer.import_file(st, plain, text="text", id="id")
    whole = gzip.compress(("id,text\n" + "".join(f"{i},t{i}\n" for i in range(5000)))
                          .encode())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ReplicoderError, match="cut short"):
        importer.import_file(st, cut, text="text", id="id")
    good = tmp_path / "good.csv"
    good.write_text("id,text\n1,a\n", "utf-8")
    with pytest.raises(ReplicoderError, match="unknown --encoding 'utf-9'"):
        importer.import_file(st, good, text="text", id="id", encoding="utf-9")
    with pytest.raises(ReplicoderError, match="UTF-16 and UTF-32 files are not read"):
        importer.import_file(st, good, text="text", id="id", encoding="utf-16")
    wide = tmp_path / "wide.csv"
    wide.write_text("id,text\n1,a\n", "utf-16")
    with pytest.raises(ReplicoderError, match="is UTF-16 text"):
        importer.import_file(st, wide, text="text", id="id")
    with st.store() as store:
        assert store.count_documents() == 0


def test_codebook_duplicate_keys_and_case_twins_are_refused() -> None:
    twice = ("name: t\nlabels:\n  - {code: a, name: A}\n  - {code: b, name: B}\n"
             "  - {code: c, name: C}\nlabels:\n  - {code: x, name: X}\n")
    with pytest.raises(ReplicoderError, match=r"line 6: key 'labels' appears twice"):
        codebook.parse(twice)
    with pytest.raises(ReplicoderError, match="key 'name' appears twice"):
        codebook.parse("labels:\n  - {code: a, name: A, name: B}\n")
    with pytest.raises(ReplicoderError, match="differs from 'Economy' .* only in case"):
        codebook.parse("labels:\n  - {code: a, name: Economy}\n  - {code: b, name: economy}\n")


def test_a_code_holding_the_separator_is_refused_on_import(tmp_path: Path) -> None:
    (tmp_path / "cb.yaml").write_text(
        "name: t\nmulti_label: true\nlabels:\n  - {code: 'a;b', name: AB}\n"
        "  - {code: c, name: C}\n", "utf-8")
    st = study_mod.init(tmp_path / "study", str(tmp_path / "cb.yaml"))
    path = tmp_path / "docs.csv"
    path.write_text("id,text,labels\n1,x,a;b\n", "utf-8")
    with pytest.raises(ReplicoderError, match="contains the label separator ';'"):
        importer.import_file(st, path, text="text", id="id", labels="labels")
    assert importer.import_file(st, path, text="text", id="id", labels="labels",
                                sep="|").labelled_added == 1


def test_empty_label_cells_can_mean_no_label_applies(tmp_path: Path) -> None:
    from replicoder.cli.study import empty_labels_note

    (tmp_path / "cb.yaml").write_text(
        "name: t\nmulti_label: true\nlabels:\n  - {code: a, name: A}\n  - {code: b, name: B}\n",
        "utf-8")
    st = study_mod.init(tmp_path / "study", str(tmp_path / "cb.yaml"))
    path = tmp_path / "docs.csv"
    path.write_text("id,text,labels\n1,x,a\n2,y,\n3,z,\n", "utf-8")
    first = importer.import_file(st, path, text="text", id="id", labels="labels")
    assert (first.labelled_added, first.empty_label_cells) == (1, 2)
    assert "2 rows had an empty label cell: imported without gold" in empty_labels_note(first)
    again = importer.import_file(st, path, text="text", id="id", labels="labels",
                                 empty_labels="none")
    assert again.gold_filled == 2 and "as gold 'no label applies'" in empty_labels_note(again)
    with st.store() as store:
        assert store.gold() == {"1": frozenset({"a"}), "2": frozenset(), "3": frozenset()}
    with pytest.raises(ReplicoderError, match="only a multi-label codebook"):
        importer.import_file(_study(tmp_path / "single"), path, text="text", id="id",
                             labels="labels", empty_labels="none")


# --- read-only study (item 8) and cosmetics (item 14) ---

def _freeze(paths: list[Path]) -> bool:
    """Make paths unwritable, also for root (chattr +i); False where that is impossible."""
    import os
    import subprocess

    for p in paths:
        p.chmod(0o555 if p.is_dir() else 0o444)
    if os.geteuid() != 0:
        return True
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
    return done.returncode == 0


def _thaw(paths: list[Path]) -> None:
    import os
    import subprocess

    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)
    for p in paths:
        p.chmod(0o755 if p.is_dir() else 0o644)


def test_read_only_study_gives_a_message_not_a_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from replicoder.cli import app as cli_app

    st = _study(tmp_path)
    frozen = [st.root, *st.root.iterdir()]
    if not _freeze(frozen):
        _thaw(frozen)
        pytest.skip("cannot make a folder read-only here (root without chattr)")
    try:
        res = CliRunner().invoke(cli_app, ["info", "--study", str(st.root)])
        assert isinstance(res.exception, ReplicoderError), res.exception
        assert "must be writable" in str(res.exception)
    finally:
        _thaw(frozen)


def test_add_annotator_help_shows_the_table_name() -> None:
    from typer.testing import CliRunner

    from replicoder.cli import app as cli_app

    res = CliRunner().invoke(cli_app, ["add-annotator", "--help"], env={"COLUMNS": "120"})
    assert "Add an [[annotators]] entry" in res.output


def test_connection_errors_read_cleanly() -> None:
    import openai

    from replicoder.annotate.backends.openai_http import _detail

    exc = openai.APIConnectionError(request=httpx.Request("GET", "http://127.0.0.1:9/"))
    assert not _detail(exc).endswith(".") and "Connection error" in _detail(exc)


def test_wide_tables_are_not_cut_at_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.table import Table

    from replicoder.cli.annotate import wide_print

    table = Table()
    for col in ("annotator", "documents", "from cache", "sent", "ok", "unparsed", "retries",
                "tokens in", "tokens out", "cost", "docs/s"):
        table.add_column(col)
    table.add_row("a-long-annotator-name", *["1,234,567"] * 10)
    wide_print(table)
    out = capsys.readouterr().out
    assert "a-long-annotator-name" in out and "docs/s" in out and "…" not in out


def test_gguf_conversion_bar_is_muted() -> None:
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    from replicoder.models.runtime import quiet

    quiet()
    bar = gguf_utils.tqdm(range(3), desc="Converting")
    assert bar.disable


def test_classify_refuses_a_read_only_study_before_any_work(tmp_path: Path) -> None:
    from replicoder.classify.local import classify

    st = _study(tmp_path)
    st.runs_dir.mkdir(parents=True, exist_ok=True)
    if not _freeze([st.runs_dir]):
        _thaw([st.runs_dir])
        pytest.skip("cannot make a folder read-only here (root without chattr)")
    out = tmp_path / "out.parquet"
    try:
        with pytest.raises(ReplicoderError, match="cannot write the run record"):
            classify(st, "no-such-model", out)
    finally:
        _thaw([st.runs_dir])
    assert not out.with_name(out.name + ".parts").exists()
