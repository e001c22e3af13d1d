"""Prompts: a Jinja template per annotator, rendered from the codebook and one document.

The rendered prompt is one user message. The document sits last, between ``<document>``
markers that its own text cannot close, so a shared prefix is the same for every document.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
import jinja2.sandbox

from replicoder.errors import ReplicoderError
from replicoder.labels.codebook import Codebook

__all__ = ["BUILTIN", "DEFAULT", "PromptTemplate", "builtin_source", "load_template"]

DEFAULT = "annotate.j2"
BUILTIN = {"": True, "default": True, "short": False}  # name -> describe labels?
_MARKER = re.compile(r"</?\s*document\s*>", re.IGNORECASE)

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded template: where it came from, its source and the sha256 of the source."""

    name: str
    source: str
    describe: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.describe}\n{self.source}".encode()).hexdigest()

    def render(self, codebook: Codebook, text: str) -> Messages:
        """The chat messages for one document: ``[{"role": "user", "content": ...}]``."""
        # A study folder is shared: its template must not reach Python internals.
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
        try:
            content = env.from_string(self.source).render(
                codebook=codebook, labels=codebook.labels, describe=self.describe,
                text=_MARKER.sub("[document]", text),
            )
        except jinja2.TemplateError as exc:
            raise ReplicoderError(f"prompt template {self.name}: {exc}; fix the template") \
                from exc
        return [{"role": "user", "content": content.strip() + "\n"}]


def builtin_source() -> str:
    return resources.files("replicoder.templates").joinpath(DEFAULT).read_text("utf-8")


def load_template(spec: str, root: Path, annotator: str = "") -> PromptTemplate:
    """``spec``: "" or "default" (labels with descriptions), "short" (names only), or a
    Jinja file path, relative to the study folder ``root``."""
    if spec in BUILTIN:
        return PromptTemplate(spec or "default", builtin_source(), BUILTIN[spec])
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = root / path
    who = f"annotator {annotator!r}: " if annotator else ""
    if not path.is_file():
        raise ReplicoderError(
            f"{who}template file {path} does not exist; give a Jinja file, 'default' or 'short'"
        )
    try:
        source = path.read_text("utf-8")
        jinja2.Environment().parse(source)
    except UnicodeDecodeError as exc:
        raise ReplicoderError(f"{who}template {path} is not UTF-8 text") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise ReplicoderError(f"{who}template {path}, line {exc.lineno}: {exc.message}") from exc
    return PromptTemplate(str(path), source, True)
