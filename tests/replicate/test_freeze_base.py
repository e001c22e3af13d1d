"""How a frozen study says where its base weights come from (no weights needed)."""

from __future__ import annotations

from replicoder.models.base import GEMMA, GEMMA_DISTS
from replicoder.replicate.archive import base_reference


def test_named_gemma_base_is_referenced_by_its_packages() -> None:
    ref = base_reference(GEMMA, "ab" * 32)
    assert ref["kind"] == "named" and ref["name"] == GEMMA
    assert set(ref["packages"]) == set(GEMMA_DISTS)
    assert "replicoder[gemma]" in ref["install"]


def test_hub_id_and_folder_references() -> None:
    assert base_reference("org/model", "")["kind"] == "hub"
    assert base_reference("./weights", "")["kind"] == "folder"
    assert base_reference("/x/model.gguf", "")["kind"] == "gguf"
