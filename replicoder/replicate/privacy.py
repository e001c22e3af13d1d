"""What ``freeze`` keeps out of an archive: keys in the settings, and (with ``--no-texts``)
every document text, including texts quoted in LLM answers."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from replicoder.errors import ReplicoderError, lines

__all__ = ["check_no_secrets", "redact_database"]

# a setting whose name ends like this holds a secret when it holds a literal value
SECRET_NAME = re.compile(r"(^|[_.-])(api[_-]?key|access[_-]?key|secret([_-]?key)?|"
                         r"(auth|access|api|bearer)?[_-]?token|password|passwd|"
                         r"credentials?|bearer)$", re.IGNORECASE)
# values that look like a provider's key wherever they are
SECRET_VALUE = re.compile(r"(sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|"
                          r"gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,})")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_no_secrets(path: Path) -> None:
    """Refuse to freeze a settings file that holds a key-like value, naming its line."""
    try:
        text = path.read_text("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ReplicoderError(f"{path}: unreadable settings ({exc})") from None
    rows = text.splitlines()
    found = [f"{path}:{_line(rows, key, value)}: {key} holds {why}"
             for key, value in _strings(data) if (why := _secret(key, value))]
    if found:
        raise ReplicoderError(
            "freeze refuses to pack a key into the archive:\n" + lines(found)
            + "\nPut the key in an environment variable and name the variable instead "
            "(e.g. api_key_env = \"OPENAI_API_KEY\"), then freeze again.")


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{key}[{i}]")
    elif isinstance(value, str):
        yield key, value


def _secret(key: str, value: str) -> str | None:
    name = key.rsplit(".", 1)[-1].split("[", 1)[0]
    if SECRET_VALUE.search(value):
        return "a value that looks like an API key"
    if value.strip() and SECRET_NAME.search(name):
        return "a literal secret"
    if name.lower().endswith("_env") and value and not ENV_NAME.fullmatch(value):
        return "a value that is not the name of an environment variable"
    return None


def _line(rows: list[str], key: str, value: str) -> int:
    """The line of ``key = value`` (the value's first line if the key is not found)."""
    name = key.rsplit(".", 1)[-1].split("[", 1)[0]
    needle = value.splitlines()[0] if value.strip() else value
    for i, line in enumerate(rows, 1):
        if name in line and "=" in line and (not needle or needle in line):
            return i
    for i, line in enumerate(rows, 1):
        if needle and needle in line:
            return i
    return 1


def redact_database(db: Path) -> None:
    """In a copy of study.db: every text becomes ``sha256:<hash>``, LLM requests are dropped
    and each raw LLM answer (which may quote the text) becomes its sha256; parsed labels
    stay."""
    from replicoder.store import Store

    with Store(db) as copy:
        copy.conn.create_function("replicoder_sha256", 1, _sha256, deterministic=True)
        with copy.transaction():
            copy.conn.execute("UPDATE proposals SET raw = 'sha256:' || replicoder_sha256(raw) "
                              "WHERE raw != ''")
        copy.redact_texts()  # texts, the LLM cache, then VACUUM (no old page keeps a text)


def _sha256(value: str | None) -> str:
    return hashlib.sha256((value or "").encode("utf-8", "surrogatepass")).hexdigest()
