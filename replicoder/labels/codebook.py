"""Codebooks: the labels a study codes, loaded from YAML with line-precise validation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from replicoder.errors import ReplicoderError

__all__ = ["BUILTIN", "Codebook", "Label", "builtin_text", "load", "name_key", "parse"]

BUILTIN = ("cap", "flourishing")
GRADE_SEP = ":"


@dataclass(frozen=True)
class Label:
    """One code of a codebook. ``code`` is always a string ("1", "pos")."""

    code: str
    name: str
    description: str = ""
    examples: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


def name_key(text: str) -> str:
    """How names and aliases are matched: case-insensitive, whitespace trimmed and collapsed."""
    return " ".join(text.split()).casefold()


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
        each ``code:intensity`` (see ``replicoder.labels.graded``), label-major, scale order."""
        if not self.graded:
            return self.codes
        return [f"{code}{GRADE_SEP}{level}" for code in self.codes for level in self.intensities]

    def lookup(self, text: str) -> str | None:
        """The code that ``text`` names: a code as written, or a name or alias matched by
        ``name_key``; None when it names no label."""
        if text in self:
            return text
        return self.names.get(name_key(text))

    @cached_property
    def names(self) -> dict[str, str]:
        """Every ``name_key`` of a name or alias, mapped to its code."""
        return {name_key(n): lab.code for lab in self.labels for n in (lab.name, *lab.aliases)}

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
                    **({"aliases": list(lab.aliases)} if lab.aliases else {}),
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
    for item in seq.value:
        labels.append(_label(source, item, seen))
    _check_names(source, seq.value, labels)
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


def _check_names(source: str, items: list[yaml.Node], labels: list[Label]) -> None:
    """Names and aliases are matched by ``name_key``, so each must name one label only."""
    owner: dict[str, tuple[str, str, int]] = {}
    for item, label in zip(items, labels, strict=True):
        line = item.start_mark.line + 1
        for kind, text in (("name", label.name), *(("alias", a) for a in label.aliases)):
            key = name_key(text)
            if key in owner:
                other_kind, other, other_line = owner[key]
                how = "is the same as" if other == text else "differs from"
                raise ReplicoderError(
                    f"{_where(source, item)}: label {label.code!r} {kind} {text!r} {how} "
                    f"{other!r} ({other_kind}, line {other_line}) only in case or spaces; "
                    "imports and answers match names and aliases ignoring both, so give "
                    "each label distinct names and aliases"
                )
            owner[key] = (kind, text, line)
    codes = {lab.code: lab for lab in labels}
    for item, label in zip(items, labels, strict=True):
        for alias in label.aliases:
            other_label = codes.get(alias)
            if other_label is not None and other_label is not label:
                raise ReplicoderError(
                    f"{_where(source, item)}: label {label.code!r} alias {alias!r} is the "
                    f"code of label {other_label.name!r}, which a code always means; "
                    "drop or change the alias"
                )


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
    extra = sorted(set(fields) - {"code", "name", "description", "examples", "aliases"})
    if extra:
        raise ReplicoderError(
            f"{_where(source, fields[extra[0]][0])}: unknown label field {extra[0]!r}; "
            "allowed: code, name, description, examples, aliases"
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
    return Label(code=code, name=name, description=description, examples=examples,
                 aliases=_aliases(source, fields.get("aliases")))


def _aliases(source: str, field_nodes: tuple[yaml.Node, yaml.Node] | None) -> tuple[str, ...]:
    if field_nodes is None:
        return ()
    node = field_nodes[1]
    if not isinstance(node, yaml.SequenceNode):
        raise ReplicoderError(
            f"{_where(source, node)}: 'aliases' must be a list of other spellings of the name"
        )
    out: list[str] = []
    for item in node.value:
        alias = _scalar(source, item, "aliases")
        if not alias:
            raise ReplicoderError(f"{_where(source, item)}: an alias is empty")
        out.append(alias)
    return tuple(out)
