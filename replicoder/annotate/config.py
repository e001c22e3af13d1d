"""Annotators: ``[[annotators]]`` tables in replicoder.toml, validated field by field.

Example::

    [[annotators]]
    name = "gpt"
    backend = "openai"
    model = "gpt-4o-mini"
    base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"   # the NAME of the variable; the key itself is never stored
    requests_per_minute = 500
    price_input_per_1k = 0.00015
    price_output_per_1k = 0.0006
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, fields
from typing import Any

from replicoder.annotate.backends import NAMES
from replicoder.errors import ReplicoderError
from replicoder.models.label_scores import DEFAULT_VARIANT, Variant
from replicoder.study import CONFIG, Study

__all__ = ["ANSWERS", "AnnotatorConfig", "add_annotator", "host_of", "is_loopback",
           "load_annotators", "parse_annotator", "select"]

ANSWERS = ("auto", "score", "generate")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class AnnotatorConfig:
    """One annotator: a model reached through a backend, plus a prompt template."""

    name: str
    backend: str = "local"  # "openai" (any OpenAI-compatible endpoint) or "local" (HF model)
    model: str = "embedded"
    base_url: str = ""  # openai backend; "" means the OpenAI API
    api_key_env: str = ""  # name of the environment variable holding the key
    template: str = ""  # "" built-in, "short" built-in without descriptions, or a file path
    temperature: float = 0.0
    seed: int = 0
    max_tokens: int = 64
    max_concurrency: int = 4  # parallel requests (openai backend)
    requests_per_minute: float = 0.0  # 0: no limit
    price_input_per_1k: float = 0.0
    price_output_per_1k: float = 0.0
    batch_size: int = 8  # documents per generate() call (local backend)
    threads: int = 0  # CPU threads for local generation; 0: torch's default
    timeout_s: float = 120.0
    max_retries: int = 5
    retry_backoff_s: float = 1.0  # first wait; doubles at each retry
    allow_http: bool = False  # plain http:// to a host other than this machine
    structured: bool = True  # openai backend: ask for a JSON schema of the codebook's codes
    max_cost: float = 0.0  # USD this annotator may spend in all (all runs); 0: no cap
    batch_discount: float = 0.5  # batch price as a share of the live price (--batch)
    answer: str = "auto"  # "score" the codebook's labels, "generate" text; auto: local scores
    scoring: str = DEFAULT_VARIANT  # how label scores are read (models.label_scores.Variant)

    @property
    def scores(self) -> bool:
        """Whether this annotator answers by scoring the codebook (local models only)."""
        return self.answer == "score" or (self.answer == "auto" and self.backend == "local")

    def params(self) -> dict[str, Any]:
        """The generation parameters that change an answer (part of the cache key)."""
        base: dict[str, Any] = {"temperature": self.temperature, "seed": self.seed,
                                "max_tokens": self.max_tokens}
        if self.scores:
            return {**base, "answer": "score", "scoring": self.scoring}
        if self.backend != "local" and self.structured:
            return {**base, "structured": True}
        return base

    def public(self) -> dict[str, Any]:
        """Settings for manifests and provenance (holds the env var's name, never a key)."""
        return dataclasses.asdict(self)


_TYPES: dict[str, type] = {f.name: type(f.default) for f in fields(AnnotatorConfig)}
_TYPES["name"] = str


def _fail(where: str, message: str) -> ReplicoderError:
    return ReplicoderError(f"{CONFIG}, {where}: {message}")


def parse_annotator(raw: Any, where: str) -> AnnotatorConfig:
    """Validate one ``[[annotators]]`` table; errors name the annotator and field."""
    if not isinstance(raw, dict):
        raise _fail(where, "each [[annotators]] entry must be a table of settings")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(where, "'name' is required: letters, digits, '.', '_' or '-' "
                    f"(got {name!r})")
    where = f"annotator {name!r}"
    unknown = sorted(set(raw) - set(_TYPES))
    if unknown:
        raise _fail(where, f"unknown field {unknown[0]!r}; allowed: {', '.join(_TYPES)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        want = _TYPES[key]
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is not bool and isinstance(value, bool)):
            raise _fail(where, f"field {key!r} must be a {want.__name__} (got {value!r})")
        values[key] = value
    cfg = AnnotatorConfig(**values)
    _check(cfg, where)
    return cfg


def _check(cfg: AnnotatorConfig, where: str) -> None:
    if cfg.backend not in NAMES:
        raise _fail(where, f"field 'backend' must be one of {', '.join(NAMES)} "
                    f"(got {cfg.backend!r})")
    if not cfg.model:
        raise _fail(where, "field 'model' is empty; name the model to use")
    if cfg.api_key_env and not _ENV.match(cfg.api_key_env):
        raise _fail(where, "field 'api_key_env' is the NAME of an environment variable "
                    "(like OPENAI_API_KEY), not the key itself")
    if cfg.base_url and not cfg.base_url.startswith(("http://", "https://")):
        raise _fail(where, f"field 'base_url' must start with http:// or https:// "
                    f"(got {cfg.base_url!r})")
    if (cfg.base_url.startswith("http://") and not cfg.allow_http
            and not is_loopback(cfg.base_url)):
        raise _fail(where, f"base_url {cfg.base_url!r} is plain http to another machine: "
                    "prompts and the API key would travel unencrypted. Use https://, or set "
                    "allow_http = true for this annotator if the network is trusted")
    if cfg.answer not in ANSWERS:
        raise _fail(where, f"field 'answer' must be one of {', '.join(ANSWERS)} "
                    f"(got {cfg.answer!r})")
    if cfg.model.startswith("trained:") and (cfg.backend != "local" or cfg.template
                                             or cfg.model == "trained:"):
        raise _fail(where, f"model {cfg.model!r}: a study's trained model is written "
                    "trained:NAME (NAME under models/), runs on the local backend and asks "
                    "with the prompt it was trained on; leave 'template' empty")
    if cfg.answer == "score" and cfg.backend != "local":
        raise _fail(where, "answer = \"score\" needs the local backend (a model run here); "
                    "use answer = \"generate\" for an HTTP annotator")
    try:
        Variant.parse(cfg.scoring)
    except ReplicoderError as exc:
        raise _fail(where, f"field 'scoring': {exc}") from None
    if not 0.0 <= cfg.temperature <= 2.0:
        raise _fail(where, f"field 'temperature' must be between 0 and 2 (got {cfg.temperature})")
    for key in ("max_tokens", "max_concurrency", "batch_size"):
        if getattr(cfg, key) < 1:
            raise _fail(where, f"field {key!r} must be at least 1 (got {getattr(cfg, key)})")
    for key in ("requests_per_minute", "price_input_per_1k", "price_output_per_1k",
                "max_retries", "retry_backoff_s", "threads", "max_cost"):
        if getattr(cfg, key) < 0:
            raise _fail(where, f"field {key!r} must not be negative (got {getattr(cfg, key)})")
    if not 0 < cfg.batch_discount <= 1:
        raise _fail(where, "field 'batch_discount' is the batch price as a share of the live "
                    f"price, above 0 and at most 1 (got {cfg.batch_discount})")
    if cfg.timeout_s <= 0:
        raise _fail(where, f"field 'timeout_s' must be positive (got {cfg.timeout_s})")


def host_of(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or ""


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (localhost, 127.0.0.0/8, ::1)."""
    host = host_of(url)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_annotators(study: Study) -> list[AnnotatorConfig]:
    """The study's annotators, in file order; an error names any bad entry and field."""
    raw = study.config.get("annotators", [])
    if not isinstance(raw, list):
        raise _fail("[[annotators]]", "write annotators as [[annotators]] tables")
    out: list[AnnotatorConfig] = []
    for i, entry in enumerate(raw, 1):
        cfg = parse_annotator(entry, f"annotator #{i}")
        if any(c.name == cfg.name for c in out):
            raise _fail(f"annotator {cfg.name!r}", "this name is used twice; names must differ")
        out.append(cfg)
    return out


def select(study: Study, names: list[str] | None) -> list[AnnotatorConfig]:
    """The annotators named (all when ``names`` is empty); unknown names are an error."""
    configs = load_annotators(study)
    if not configs:
        raise ReplicoderError(
            f"no annotators in {study.root / CONFIG}; add one with `replicoder add-annotator "
            "NAME` or an [[annotators]] table"
        )
    if not names:
        return configs
    known = {c.name: c for c in configs}
    for name in names:
        if name not in known:
            raise ReplicoderError(
                f"unknown annotator {name!r}; the study has: {', '.join(known)}"
            )
    return [known[n] for n in names]


def add_annotator(study: Study, cfg: AnnotatorConfig, *, replace: bool = False) -> None:
    """Add (or with ``replace`` overwrite) an annotator and rewrite replicoder.toml atomically."""
    where = f"annotator {cfg.name!r}"
    if not _NAME.match(cfg.name):
        raise _fail(where, "'name' may hold letters, digits, '.', '_' or '-' only")
    _check(cfg, where)
    current = load_annotators(study)
    if any(c.name == cfg.name for c in current) and not replace:
        raise ReplicoderError(f"the study already has an annotator named {cfg.name!r}; "
                              "choose another name or replace it")
    defaults = AnnotatorConfig(name=cfg.name)
    entry = {k: v for k, v in cfg.public().items()
             if k in ("name", "backend", "model") or v != getattr(defaults, k)}
    kept = [c for c in study.config.get("annotators", []) if c.get("name") != cfg.name]
    study.config["annotators"] = [*kept, entry]
    study.save_config()
