"""Prompt stability (Barrie, Palaiologou & Törnberg 2024): ``annotate --repeats K``.

Repeat r (2..K) of annotator NAME is stored as annotator ``NAME~r`` with seed ``seed + r - 1``
(and ``--temperature`` for all K), so each repeat is cached, resumable and shown like any
annotator, and the crowd's majority can count the repeats as voters. ``stability`` gives
within-annotator stability (Krippendorff's alpha across an annotator's repeats) and
between-prompt stability (alpha across annotators that share a model but not a prompt),
with bootstrap intervals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from replicoder.annotate.config import AnnotatorConfig
from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import Codebook
from replicoder.metrics.agreement import alpha_with_interval
from replicoder.store import Proposal

__all__ = ["SEP", "base_name", "stability", "with_repeats"]

SEP = "~"


def base_name(annotator: str) -> str:
    """The annotator a repeat belongs to ("gpt~3" -> "gpt")."""
    head, sep, tail = annotator.rpartition(SEP)
    return head if sep and tail.isdigit() else annotator


def with_repeats(configs: Sequence[AnnotatorConfig], repeats: int,
                 temperature: float | None) -> list[AnnotatorConfig]:
    """Each annotator, then its repeats 2..K (see the module docstring)."""
    if repeats < 1:
        raise ReplicoderError(f"--repeats must be at least 1 (got {repeats})")
    if temperature is not None and not 0 <= temperature <= 2:
        raise ReplicoderError(f"--temperature must be between 0 and 2 (got {temperature})")
    out: list[AnnotatorConfig] = []
    for cfg in configs:
        if temperature is not None:
            cfg = dataclasses.replace(cfg, temperature=temperature)
        out.append(cfg)
        out += [dataclasses.replace(cfg, name=f"{cfg.name}{SEP}{r}", seed=cfg.seed + r - 1)
                for r in range(2, repeats + 1)]
    return out


def _units(props: list[Proposal], names: set[str], key: Any) -> dict[str, dict[str, Any]]:
    units: dict[str, dict[str, Any]] = {}
    for p in props:
        if p.status == "ok" and p.annotator in names:
            units.setdefault(p.doc_id, {})[key(p)] = p.labels
    return units


def stability(proposals: Iterable[Proposal], codebook: Codebook, n_boot: int = 1000,
              seed: int = 0) -> dict[str, Any]:
    """``within``: per annotator with repeats, alpha across them; ``between``: per model
    answered by several prompts, alpha across those annotators (first repeats only)."""
    props = list(proposals)
    distance = "masi" if codebook.multi_label else "nominal"
    groups: dict[str, set[str]] = {}
    for p in props:
        groups.setdefault(base_name(p.annotator), set()).add(p.annotator)
    within = []
    for name, members in sorted(groups.items()):
        if len(members) < 2:
            continue
        value, ci, n = alpha_with_interval(_units(props, members, lambda p: p.annotator),
                                           distance, n_boot, seed)
        within.append({"annotator": name, "repeats": len(members), "value": value,
                       "ci": list(ci), "n": n})
    by_model: dict[str, dict[str, str]] = {}
    for p in props:
        if p.annotator in groups:  # the first repeat of each annotator
            by_model.setdefault(str(p.provenance.get("model_id", "")), {})[p.annotator] = str(
                p.provenance.get("template_sha256", ""))
    between = []
    for model, prompts in sorted(by_model.items()):
        if len(set(prompts.values())) < 2:
            continue
        names = set(prompts)
        value, ci, n = alpha_with_interval(_units(props, names, lambda p: p.annotator),
                                           distance, n_boot, seed)
        between.append({"model": model, "annotators": sorted(names), "value": value,
                        "ci": list(ci), "n": n})
    return {"distance": distance, "within": within, "between": between}
