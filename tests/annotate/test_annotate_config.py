"""[[annotators]] in replicoder.toml: validation names the annotator and field."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from replicoder import study as study_mod
from replicoder.annotate.config import AnnotatorConfig, add_annotator, load_annotators, select
from replicoder.errors import ReplicoderError


def with_annotators(study: study_mod.Study, entries: list[Any]) -> study_mod.Study:
    study.config["annotators"] = entries
    study.save_config()
    return study_mod.open_study(study.root)


def test_add_annotator_rewrites_the_toml_and_loads_back(cap_study: study_mod.Study) -> None:
    gpt = AnnotatorConfig(name="gpt", backend="openai", model="gpt-4o-mini",
                          api_key_env="OPENAI_API_KEY", requests_per_minute=500,
                          price_input_per_1k=0.00015)
    add_annotator(cap_study, AnnotatorConfig(name="smol", template="short"))
    add_annotator(cap_study, gpt)
    raw = tomllib.loads((cap_study.root / "replicoder.toml").read_text("utf-8"))
    assert [a["name"] for a in raw["annotators"]] == ["smol", "gpt"]
    assert raw["annotators"][1]["api_key_env"] == "OPENAI_API_KEY"
    assert "temperature" not in raw["annotators"][1]  # defaults are not written
    loaded = load_annotators(study_mod.open_study(cap_study.root))
    assert loaded[1] == gpt and loaded[0].template == "short"
    with pytest.raises(ReplicoderError, match="already has an annotator named 'gpt'"):
        add_annotator(cap_study, gpt)
    add_annotator(cap_study, AnnotatorConfig(name="gpt", backend="openai", model="x"),
                  replace=True)
    assert [c.model for c in load_annotators(cap_study)] == ["embedded", "x"]


@pytest.mark.parametrize("entry, message", [
    ({"backend": "local"}, r"annotator #1: 'name' is required"),
    ({"name": "a b"}, r"'name' is required: letters"),
    ({"name": "x", "backend": "claude"}, r"annotator 'x': field 'backend' must be one of"),
    ({"name": "x", "temprature": 0.5}, r"annotator 'x': unknown field 'temprature'"),
    ({"name": "x", "temperature": "hot"}, r"annotator 'x': field 'temperature' must be a float"),
    ({"name": "x", "temperature": 3}, r"'temperature' must be between 0 and 2"),
    ({"name": "x", "max_tokens": 0}, r"'max_tokens' must be at least 1"),
    ({"name": "x", "max_tokens": True}, r"'max_tokens' must be a int"),
    ({"name": "x", "requests_per_minute": -1}, r"'requests_per_minute' must not be negative"),
    ({"name": "x", "api_key_env": "sk-abc123-secret"}, r"NAME of an environment variable"),
    ({"name": "x", "base_url": "localhost:8000"}, r"'base_url' must start with http"),
    ({"name": "x", "model": ""}, r"field 'model' is empty"),
    ("gpt", r"each \[\[annotators\]\] entry must be a table"),
])
def test_bad_entries_name_the_annotator_and_field(
    cap_study: study_mod.Study, entry: Any, message: str
) -> None:
    study = with_annotators(cap_study, [entry])
    with pytest.raises(ReplicoderError, match=message):
        load_annotators(study)


def test_duplicate_and_unknown_names(cap_study: study_mod.Study) -> None:
    with pytest.raises(ReplicoderError, match="no annotators in"):
        select(cap_study, None)
    study = with_annotators(cap_study, [{"name": "a"}, {"name": "b"}])
    assert [c.name for c in select(study, ["b"])] == ["b"]
    with pytest.raises(ReplicoderError, match="unknown annotator 'c'; the study has: a, b"):
        select(study, ["c"])
    study = with_annotators(cap_study, [{"name": "a"}, {"name": "a"}])
    with pytest.raises(ReplicoderError, match="'a'.*used twice"):
        load_annotators(study)
