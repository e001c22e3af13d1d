"""Codebooks: the labels a study codes, loaded from YAML with line-precise validation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from replicoder.errors import ReplicoderError

__all__ = ["BUILTIN", "Codebook", "Label", "builtin_text", "load", "parse"]

BUILTIN = ("cap",)
GRADE_SEP = ":"


@dataclass(frozen=True)
class Label:
    """One code of a codebook. ``code`` is always a string ("1", "pos")."""

    code: str
    name: str
    description: str = ""
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Codebook:
    """An ordered set of labels; ``multi_label`` says if a document may carry several."""

    name: str
    labels: tuple[Label, ...]
    multi_label: bool = False
    source_text: str = field(default="", repr=False, compare=False)
    intensities: tuple[str, ...] = ()

    @property
    def codes(self) -> list[str]:
        return [lab.code for lab in self.labels]

    @property
    def graded(self) -> bool:
        """True when each label carries an intensity from the ordered scale ``intensities``."""
        return bool(self.intensities)

    @property
    def values(self) -> list[str]:
        """Every value a document's label set may hold: the codes, or for a graded codebook
        each ``code:intensity`` (see ``replicoder.graded``), label-major, scale order."""
        if not self.graded:
            return self.codes
        return [f"{code}{GRADE_SEP}{level}" for code in self.codes for level in self.intensities]

    def label(self, code: str) -> Label:
        for lab in self.labels:
            if lab.code == code:
                return lab
        raise KeyError(code)

    def __contains__(self, code: object) -> bool:
        return any(lab.code == code for lab in self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_yaml().encode("utf-8")).hexdigest()

    def to_yaml(self) -> str:
        if self.source_text:
            return self.source_text
        doc: dict[str, Any] = {
            "name": self.name,
            "multi_label": self.multi_label,
            **({"intensities": list(self.intensities)} if self.intensities else {}),
            "labels": [
                {
                    "code": lab.code,
                    "name": lab.name,
                    "description": lab.description,
                    **({"examples": list(lab.examples)} if lab.examples else {}),
                }
                for lab in self.labels
            ],
        }
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)

    def with_multi_label(self, multi_label: bool) -> Codebook:
        """Return a copy with the multi-label setting changed (rewrites the YAML)."""
        return Codebook(self.name, self.labels, multi_label, intensities=self.intensities)


def builtin_text(name: str) -> str:
    if name not in BUILTIN:
        raise ReplicoderError(f"unknown built-in codebook {name!r}; built in: {', '.join(BUILTIN)}")
    return resources.files("replicoder.codebooks").joinpath(f"{name}.yaml").read_text("utf-8")


def load(spec: str | Path) -> Codebook:
    """Load a built-in codebook by name ("cap") or a YAML file by path."""
    if isinstance(spec, str) and spec in BUILTIN:
        return parse(builtin_text(spec), f"<built-in {spec}>")
    path = Path(spec)
    if not path.is_file():
        raise ReplicoderError(
            f"codebook {spec}: no such file; give a YAML path or one of: {', '.join(BUILTIN)}"
        )
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ReplicoderError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from exc
    return parse(text, str(path))


def _where(source: str, node: yaml.Node) -> str:
    return f"{source}, line {node.start_mark.line + 1}"


def _scalar(source: str, node: yaml.Node, field_name: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise ReplicoderError(f"{_where(source, node)}: {field_name!r} must be a single value")
    return str(node.value).strip()


def _mapping(node: yaml.Node, source: str = "<codebook>"
             ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Keys to (key node, value node); a key given twice is an error, not a silent overwrite."""
    assert isinstance(node, yaml.MappingNode)
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        name = str(key.value)
        if name in out:
            raise ReplicoderError(
                f"{_where(source, key)}: key {name!r} appears twice in the same mapping "
                f"(first on line {out[name][0].start_mark.line + 1}); YAML would keep only "
                "the last one. Merge them into one"
            )
        out[name] = (key, value)
    return out


def parse(text: str, source: str = "<codebook>") -> Codebook:
    """Parse and validate codebook YAML. Errors name the line and field."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ReplicoderError(f"{source}{line}: not valid YAML: {exc}") from exc
    if not isinstance(root, yaml.MappingNode):
        raise ReplicoderError(f"{source}: a codebook is a mapping with 'name' and 'labels'")
    top = _mapping(root, source)
    unknown = sorted(set(top) - {"name", "multi_label", "labels", "description",
                                 "intensities"})
    if unknown:
        key = top[unknown[0]][0]
        raise ReplicoderError(
            f"{_where(source, key)}: unknown field {unknown[0]!r}; "
            "allowed: name, description, multi_label, intensities, labels"
        )
    name = _scalar(source, top["name"][1], "name") if "name" in top else Path(source).stem
    multi = False
    if "multi_label" in top:
        node = top["multi_label"][1]
        value = yaml.safe_load(yaml.serialize(node))
        if not isinstance(value, bool):
            raise ReplicoderError(f"{_where(source, node)}: 'multi_label' must be true or false")
        multi = value
    if "labels" not in top:
        raise ReplicoderError(f"{source}: missing 'labels' (a list of code/name/description)")
    seq = top["labels"][1]
    if not isinstance(seq, yaml.SequenceNode) or not seq.value:
        raise ReplicoderError(f"{_where(source, seq)}: 'labels' must be a non-empty list")
    labels: list[Label] = []
    seen: dict[str, int] = {}
    names: dict[str, tuple[str, int]] = {}
    for item in seq.value:
        label = _label(source, item, seen)
        folded = label.name.casefold()
        if folded in names:
            first, first_line = names[folded]
            raise ReplicoderError(
                f"{_where(source, item)}: label name {label.name!r} differs from {first!r} "
                f"(line {first_line}) only in case; imports match names ignoring case, so give "
                "each label a distinct name"
            )
        names[folded] = (label.name, item.start_mark.line + 1)
        labels.append(label)
    intensities = _intensities(source, top["intensities"][1]) if "intensities" in top else ()
    if intensities:
        for item, label in zip(seq.value, labels, strict=True):
            if GRADE_SEP in label.code:
                raise ReplicoderError(
                    f"{_where(source, item)}: code {label.code!r} contains {GRADE_SEP!r}, "
                    "which separates a code from its intensity in a graded codebook; "
                    "rename the code"
                )
    return Codebook(name=name, labels=tuple(labels), multi_label=multi, source_text=text,
                    intensities=intensities)


def _intensities(source: str, node: yaml.Node) -> tuple[str, ...]:
    """The ordered scale of a graded codebook: distinct plain words, lowest first."""
    if not isinstance(node, yaml.SequenceNode) or len(node.value) < 2:
        raise ReplicoderError(
            f"{_where(source, node)}: 'intensities' must be a list of at least two levels, "
            "lowest first (e.g. [low, medium, high])"
        )
    levels: list[str] = []
    for item in node.value:
        level = _scalar(source, item, "intensities")
        if not level or GRADE_SEP in level or ";" in level or "," in level:
            raise ReplicoderError(
                f"{_where(source, item)}: intensity {level!r} must be a non-empty word "
                f"without {GRADE_SEP!r}, ';' or ','"
            )
        if level.casefold() in (x.casefold() for x in levels):
            raise ReplicoderError(f"{_where(source, item)}: intensity {level!r} given twice")
        levels.append(level)
    return tuple(levels)


def _label(source: str, item: yaml.Node, seen: dict[str, int]) -> Label:
    where = _where(source, item)
    if not isinstance(item, yaml.MappingNode):
        raise ReplicoderError(f"{where}: each label is a mapping with code, name, description")
    fields = _mapping(item, source)
    extra = sorted(set(fields) - {"code", "name", "description", "examples"})
    if extra:
        raise ReplicoderError(
            f"{_where(source, fields[extra[0]][0])}: unknown label field {extra[0]!r}; "
            "allowed: code, name, description, examples"
        )
    for required in ("code", "name"):
        if required not in fields:
            raise ReplicoderError(f"{where}: label is missing {required!r}")
    code = _scalar(source, fields["code"][1], "code")
    name = _scalar(source, fields["name"][1], "name")
    if not code:
        raise ReplicoderError(f"{_where(source, fields['code'][1])}: 'code' is empty")
    if not name:
        raise ReplicoderError(f"{_where(source, fields['name'][1])}: 'name' is empty")
    line = item.start_mark.line + 1
    if code in seen:
        raise ReplicoderError(
            f"{where}: duplicate code {code!r} (first defined on line {seen[code]})"
        )
    seen[code] = line
    description = ""
    if "description" in fields:
        description = _scalar(source, fields["description"][1], "description")
    examples: tuple[str, ...] = ()
    if "examples" in fields:
        node = fields["examples"][1]
        if not isinstance(node, yaml.SequenceNode):
            raise ReplicoderError(f"{_where(source, node)}: 'examples' must be a list of texts")
        examples = tuple(_scalar(source, ex, "examples") for ex in node.value)
    return Label(code=code, name=name, description=description, examples=examples)
