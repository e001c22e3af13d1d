"""Issue 25, item 14: a party to a disagreement cannot adjudicate it (library, CLI, app),
unless the study sets [review] party_adjudication = true, which the export reports."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from test_review_app import JSON, login, run_server
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.cli import app as cli_app
from replicoder.errors import ReplicoderError
from replicoder.review import adjudication, session
from replicoder.review.export import export_verified


def _disagree(study: study_mod.Study) -> None:
    with study.store() as store:
        session.decide(store, study.codebook, "anna", "d1", ["7"], [], False, 1.0)
        session.decide(store, study.codebook, "ben", "d1", ["3"], [], False, 1.0)


def test_a_party_cannot_adjudicate(study: study_mod.Study, tmp_path: Path) -> None:
    _disagree(study)
    with study.store() as store:
        with pytest.raises(ReplicoderError, match="'anna' is one of its coders"):
            adjudication.adjudicate(store, study.codebook, "anna", "d1", ["3"])
        assert store.adjudications() == {}
    res = CliRunner().invoke(cli_app, ["review", "adjudicate", "--doc", "d1", "--labels", "3",
                                       "--coder", "ben", "--study", str(study.root)])
    assert isinstance(res.exception, ReplicoderError)
    assert "one of its coders" in str(res.exception)
    for url in run_server(study, None):
        with httpx.Client(base_url=url, headers=JSON) as http:
            login(http, "anna")
            own = http.post("/api/c/anna/adjudicate",
                            json={"doc_id": "d1", "labels": ["7"], "unclear": False})
            assert own.status_code == 400 and "third coder" in own.json()["error"]
        with httpx.Client(base_url=url, headers=JSON) as http:
            login(http, "carla")
            ok = http.post("/api/c/carla/adjudicate",
                           json={"doc_id": "d1", "labels": ["3"], "unclear": False})
            assert ok.status_code == 200, ok.text
    result = export_verified(study, tmp_path / "v.csv")
    assert result.party_adjudicated == 0
    manifest = json.loads((tmp_path / "v.csv.manifest.json").read_text("utf-8"))
    assert manifest["party_adjudication"] == {"allowed": False, "documents": 0, "first": []}


def test_a_study_may_allow_it_on_purpose(study: study_mod.Study, tmp_path: Path) -> None:
    _disagree(study)
    study.config["review"] = {"party_adjudication": True}
    study.save_config()
    runner = CliRunner()
    res = runner.invoke(cli_app, ["review", "adjudicate", "--doc", "d1", "--labels", "3",
                                  "--coder", "ben", "--study", str(study.root)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli_app, ["export", "verified", "--out", str(tmp_path / "v.csv"),
                                  "--study", str(study.root)])
    assert res.exit_code == 0 and "adjudicated by one of their own coders" in res.output
    manifest = json.loads((tmp_path / "v.csv.manifest.json").read_text("utf-8"))
    assert manifest["party_adjudication"] == {"allowed": True, "documents": 1,
                                              "first": ["d1"]}
    study.config["review"] = {"party_adjudication": "yes"}
    study.save_config()
    res = runner.invoke(cli_app, ["review", "adjudicate", "--doc", "d1", "--labels", "3",
                                  "--coder", "ben", "--study", str(study.root)])
    assert isinstance(res.exception, ReplicoderError)
    assert "write true or false" in str(res.exception)
