"""import-proposals: outside proposals and decisions replayed into a real study."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from paths import FLOURISHING

from replicoder import importer
from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.review.acceptance import accept_agreement, acceptance_data, acceptance_rates
from replicoder.review.replay import import_proposals
from replicoder.study import Study

CODINGS = FLOURISHING / "all-llms-codings.csv.gz"
COLUMNS = {"doc_column": "id", "label_column": "dimension", "intensity_column": "value",
           "annotator_column": "llm", "decision_column": "accepted", "coder_column": "coder"}


@pytest.fixture
def tweets(tmp_path: Path) -> Study:
    st = study_mod.init(tmp_path / "study", "flourishing")
    importer.import_file(st, FLOURISHING / "sample.csv.gz", text="tweet_text", id="message_id")
    return st


def _rows() -> list[dict[str, str]]:
    with gzip.open(CODINGS, "rt", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_replay_reproduces_the_rows_acceptance_rates(tweets: Study) -> None:
    rows = _rows()
    result = import_proposals(tweets, CODINGS, **COLUMNS)
    assert result.rows == len(rows) == 3266 and result.judgements_added == 3266
    with tweets.store() as store:
        rates = {a.annotator: a for a in acceptance_rates(store)}
        for llm in ("GPT4", "LLAMA2"):
            mine = [r for r in rows if r["llm"] == llm]
            assert rates[llm].n == len(mine)
            assert rates[llm].accepted == sum(r["accepted"] == "Y" for r in mine)
            assert rates[llm].low < rates[llm].rate < rates[llm].high
        assert (rates["GPT4"].n, rates["GPT4"].accepted) == (643, 483)  # 75.1%
        proposals = store.proposals(annotator="GPT4")
        assert proposals[0].provenance["sha256"] == result.sha256
        assert proposals[0].provenance["imported_from"].endswith("all-llms-codings.csv.gz")
        one = store.proposals(["1630854950686261249"], "LLAMA2")[0]
        assert "resilience:medium" in one.labels
        decision = store.decision("1630854950686261249", "3")
        assert decision is not None and "resilience:medium" in decision.kept
        assert decision.proposed["resilience:medium"] == ["LLAMA2"]
        verified = store.verified_labels()
        agree = accept_agreement(store)
    multi = {r["id"] for r in rows if r["coder"] != rows[0]["coder"]}
    assert len(verified) > 200 and multi
    assert agree.documents == 30 and agree.units > 0 and agree.alpha is not None
    data = acceptance_data(tweets.store())
    assert json.dumps(data) and data["acceptance"][0]["annotator"] == "GPT4"


def test_a_kept_label_is_a_verified_label_with_its_intensity(tweets: Study) -> None:
    import_proposals(tweets, CODINGS, **COLUMNS)
    rows = _rows()
    with tweets.store() as store:
        verified = {v.doc_id: v for v in store.verified()}
    single = {r["id"] for r in rows} - {r["id"] for r in rows if r["coder"] != "3"}
    doc = sorted(d for d in single if d in verified)[0]
    accepted = {(r["dimension"], r["value"]) for r in rows if r["id"] == doc
                and r["accepted"] == "Y"}
    book = tweets.codebook
    assert verified[doc].labels == {f"{book.lookup(n)}:{v}" for n, v in accepted}
    assert verified[doc].how == "single"


def test_reimport_adds_nothing_and_a_bad_row_imports_nothing(tweets: Study,
                                                             tmp_path: Path) -> None:
    import_proposals(tweets, CODINGS, **COLUMNS)
    with tweets.store() as store:
        log = store.decision_log_size()
    again = import_proposals(tweets, CODINGS, **COLUMNS)
    assert again.decisions_added == 0 and again.judgements_added == 0
    with tweets.store() as store:
        assert store.decision_log_size() == log

    fresh = study_mod.init(tmp_path / "fresh", "flourishing")
    importer.import_file(fresh, FLOURISHING / "sample.csv.gz", text="tweet_text",
                         id="message_id")
    rows = _rows()[:5]
    for i, (field, value, message) in enumerate([
        ("id", "999", "row 5: document '999' is not in the study"),
        ("dimension", "joy of cooking", "row 5: label 'joy of cooking' is not in codebook"),
        ("accepted", "maybe", "row 5: decision 'maybe' is neither an accept value"),
        ("value", "extreme", "row 5: unknown intensity 'extreme'"),
    ]):
        bad = [dict(r) for r in rows]
        bad[4][field] = value
        path = tmp_path / f"bad{i}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, list(rows[0]))
            writer.writeheader()
            writer.writerows(bad)
        with pytest.raises(ReplicoderError, match=message):
            import_proposals(fresh, path, **COLUMNS)
        with fresh.store() as store:
            assert not store.proposals() and not store.decisions() and not store.judgements()


def test_cli_imports_and_agreement_shows_the_rates(tweets: Study) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "replicoder.cli", *args,
                               "--study", str(tweets.root)],
                              capture_output=True, text=True, timeout=120)

    done = cli("import-proposals", str(CODINGS), "--doc-column", "id", "--label-column",
               "dimension", "--intensity-column", "value", "--annotator-column", "llm",
               "--decision-column", "accepted", "--coder-column", "coder")
    assert done.returncode == 0, done.stderr
    assert "Read 3,266 rows (GPT4 643, LLAMA2 2,623)" in done.stdout
    shown = cli("review", "agreement")
    assert shown.returncode == 0, shown.stderr
    flat = " ".join(shown.stdout.split())
    assert "GPT4" in flat and "75.1%" in flat and "30.1%" in flat
    assert "in 30 documents judged by two or more coders" in flat
    bad = cli("import-proposals", str(CODINGS), "--doc-column", "nope", "--label-column",
              "dimension", "--annotator-column", "llm")
    assert bad.returncode == 2 and "no column 'nope' (asked for by --doc-column)" in bad.stderr
    runs = sorted((tweets.root / "runs").glob("*/manifest.json"))
    manifests = [json.loads(p.read_text("utf-8")) for p in runs]
    replay = [m for m in manifests if m.get("kind") == "import-proposals"]
    assert replay and replay[0]["input"]["sha256"]
