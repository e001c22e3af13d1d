"""Content hashes of files, folders of weights and texts (sha256, hex)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

__all__ = ["file_sha256", "input_sha256", "text_sha256", "weights_sha256"]

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".json")


@lru_cache(maxsize=64)
def _cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of one file's bytes; cached by (path, size, mtime) within a process."""
    st = path.stat()
    return _cached(str(path), st.st_size, st.st_mtime_ns)


def input_sha256(path: Path) -> str:
    """sha256 of an input: a file's bytes, or a folder's .txt files with their names."""
    if not path.is_dir():
        return file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*.txt")):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def weights_sha256(folder: Path) -> str:
    """One hash over a folder's weight and config files, by name."""
    digest = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.suffix in WEIGHT_SUFFIXES and file.is_file():
            digest.update(file.name.encode())
            digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
