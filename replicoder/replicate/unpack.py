"""Unpack an untrusted replication archive within limits, before anything in it is used.

Two passes over the .tar.gz. The first writes nothing: it counts the members (at most
``Limits.max_members``), refuses absolute paths, ``..``, links, devices, pickles, duplicate
names and code in model folders, and reads ``lock.json`` (at most ``LOCK_BYTES``), which
lists every member with its size and sha256. Members the lock does not list, members larger
than listed, lock entries outside the folder and a total above ``Limits.max_bytes`` (or the
free disk space) are refused then. The second pass writes each member, stopping the moment a
member holds more bytes than the lock lists. On any failure what was written is removed.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from replicoder.errors import LINE_CHARS, ReplicoderError, clip, lines
from replicoder.replicate.archive import FORMAT, LOCK

__all__ = ["CODE_SUFFIXES", "LOCK_BYTES", "Limits", "check_no_code", "loads", "remove_unpacked",
           "safe_name", "unpack_archive"]

README = "README.md"
LOCK_BYTES = 64 << 20
README_BYTES = 1 << 20  # an unlisted README.md (archives made before sizes were listed)
PICKLES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")
CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyd", ".pyi", ".so", ".dylib", ".dll")
MODEL_DIRS = ("base/", "study/models/")
BLOCK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Caps on what an archive may unpack to; raise them with reproduce's flags."""

    max_members: int = 10_000
    max_bytes: int = 50 * 10**9


def unpack_archive(archive: Path, target: Path, limits: Limits | None = None) -> dict[str, Any]:
    """Check ``archive`` against its lock, extract it into ``target`` (new or empty) and
    return the lock. On failure what was written is removed (``remove_unpacked`` says so)."""
    limits = limits or Limits()
    existed = target.exists()
    if existed and (not target.is_dir() or any(target.iterdir())):
        raise ReplicoderError(f"{target}: not an empty folder; unpack into a new or empty one")
    try:
        lock, allowed = _scan(archive, target, limits)
        _extract(archive, target, allowed, limits)
    except ReplicoderError:
        remove_unpacked(target, existed)
        raise
    except (tarfile.TarError, EOFError, OSError) as exc:
        remove_unpacked(target, existed)
        raise ReplicoderError(f"{archive}: unpacking into {target} failed ({exc})") from None
    return lock


def remove_unpacked(target: Path, existed: bool) -> str:
    """Delete what was unpacked into ``target`` (the folder too, unless it was there before);
    the sentence that says so."""
    if not target.exists() or existed and not any(target.iterdir()):
        return f"Nothing was written to {target}."
    if existed:
        for child in target.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
        return f"Removed what was unpacked into {target} (the folder is empty again)."
    shutil.rmtree(target, ignore_errors=True)
    return f"Removed {target} and everything unpacked into it."


def safe_name(name: str) -> str | None:
    """Why ``name`` may not be a path inside the unpacked folder, or None if it may."""
    parts = PurePosixPath(name).parts
    if not name or name.startswith(("/", "\\")) or ":" in name or "\\" in name:
        return "has an absolute path"
    if ".." in parts or not parts or "\x00" in name:
        return "points outside the folder ('..')"
    return None


def loads(data: bytes | str, where: str) -> Any:
    """JSON from an archive: a clear error for bad JSON or nesting too deep to read."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ReplicoderError(f"{where}: JSON nested too deeply to read; refused") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReplicoderError(f"{where}: not valid JSON ({exc}); this is not an archive made "
                              "by `replicoder freeze`") from None


def check_no_code(root: Path) -> None:
    """Refuse model folders (base/, study/models/) holding Python or native code, or a
    config JSON with ``auto_map`` (which makes transformers offer to run the folder's code)."""
    problems: list[str] = []
    for top in (root / "base", root / "study" / "models"):
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*")):
            name = path.relative_to(root).as_posix()
            if path.suffix.lower() in CODE_SUFFIXES:
                problems.append(f"{name}: code in a model folder")
            elif path.suffix.lower() == ".json" and path.is_file():
                if _has_key(loads(path.read_bytes(), name), "auto_map"):
                    problems.append(f"{name}: 'auto_map' names custom model code")
    if problems:
        raise ReplicoderError("the archive's model folders hold code that loading the model "
                              "could run; refused before loading anything:\n"
                              + lines(problems))


def _has_key(value: Any, key: str) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if key in item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _members(archive: Path) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                tar.members = []  # type: ignore[attr-defined]  # stream mode keeps them all
                yield tar, member
    except FileNotFoundError:
        raise ReplicoderError(f"{archive}: no such archive") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ReplicoderError(f"{archive}: not a readable .tar.gz archive ({exc})") from None


def _shown(name: str) -> str:
    """A member's name as an error message shows it: cut, so a huge name stays short."""
    return clip(name, LINE_CHARS)


def _check_member(archive: Path, member: tarfile.TarInfo) -> None:
    name = _shown(member.name)
    why = safe_name(member.name)
    if why:
        raise ReplicoderError(f"{archive}: member {name!r} {why}; refused")
    if not (member.isfile() or member.isdir()):
        raise ReplicoderError(f"{archive}: member {name!r} is a link or device, not a file; "
                              "refused")
    suffix = PurePosixPath(member.name).suffix.lower()
    if suffix in PICKLES:
        raise ReplicoderError(f"{archive}: member {name!r} is a pickle-based file, which can "
                              "run code when loaded; refused (freeze writes safetensors only)")
    if suffix in CODE_SUFFIXES and member.name.startswith(MODEL_DIRS):
        raise ReplicoderError(f"{archive}: member {name!r} is code in a model folder, which "
                              "loading the model could run; refused")


def _scan(archive: Path, target: Path, limits: Limits
          ) -> tuple[dict[str, Any], dict[str, int]]:
    """Pass one, writing nothing: the lock and the size each member may have."""
    count, lock_bytes = 0, None
    files: dict[str, int] = {}
    for tar, member in _members(archive):
        count += 1
        if count > limits.max_members:
            raise ReplicoderError(f"{archive}: more than {limits.max_members:,} members; "
                                  "refused (raise the cap with --max-members if you trust it)")
        _check_member(archive, member)
        if member.isdir():
            continue
        if member.name in files:
            raise ReplicoderError(f"{archive}: member {_shown(member.name)!r} appears twice; "
                                  "refused")
        files[member.name] = member.size
        if member.name == LOCK:
            if member.size > LOCK_BYTES:
                raise ReplicoderError(f"{archive}: {LOCK} is {member.size:,} bytes, more than "
                                      f"{LOCK_BYTES:,}; refused")
            source = tar.extractfile(member)
            assert source is not None
            lock_bytes = source.read()
    if lock_bytes is None:
        raise ReplicoderError(f"{archive}: no {LOCK}; this is not an archive made by "
                              "`replicoder freeze`")
    lock = read_lock(lock_bytes, f"{archive}: {LOCK}")
    sizes: dict[str, int] = lock["sizes"]
    allowed = {LOCK: LOCK_BYTES, README: sizes.get(README, README_BYTES), **sizes}
    unlisted = [n for n in files if n not in allowed]
    if unlisted:
        raise ReplicoderError(
            f"{archive}: {len(unlisted):,} members not listed in the lock (added after "
            "freezing); refused:\n" + lines([f"{n}: not listed in the lock"
                                                 for n in unlisted]))
    larger = [f"{n}: {s:,} bytes, the lock lists {allowed[n]:,}"
              for n, s in files.items() if s > allowed[n]]
    if larger:
        raise ReplicoderError(f"{archive}: members larger than the lock lists; refused:\n"
                              + lines(larger))
    total = sum(files.values())
    if total > limits.max_bytes:
        raise ReplicoderError(f"{archive}: unpacks to {total:,} bytes, more than the cap of "
                              f"{limits.max_bytes:,} bytes; refused (raise it with --max-gb if you "
                              "trust the archive)")
    free = shutil.disk_usage(_existing(target)).free
    if total > free:
        raise ReplicoderError(f"{archive}: unpacks to {total:,} bytes, but {target} has only "
                              f"{free:,} free; give a --workdir on a larger disk")
    return lock, allowed


def read_lock(data: bytes, where: str) -> dict[str, Any]:
    """The lock's JSON, checked: format, a sha256 and a size for each member, every name a
    path inside the folder (checked before any file is read or hashed)."""
    lock = loads(data, where)
    if not isinstance(lock, dict) or lock.get("format") != FORMAT:
        raise ReplicoderError(f"{where}: not a replicoder freeze lock of format {FORMAT}")
    files, sizes = lock.get("files"), lock.get("sizes")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ReplicoderError(f"{where}: 'files' must map each member to its sha256")
    if not isinstance(sizes, dict):
        raise ReplicoderError(f"{where}: lists no member sizes (an archive from an older "
                              "replicoder); freeze the study again with this version")
    if set(sizes) != set(files) or not all(type(v) is int and v >= 0 for v in sizes.values()):
        raise ReplicoderError(f"{where}: 'sizes' must give a byte count for each file listed")
    bad = [f"{name!r} {why}" for name in files if (why := safe_name(name))]
    if bad:
        raise ReplicoderError(f"{where}: entries outside the folder; refused before reading "
                              "any file:\n" + lines(bad))
    return lock


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _extract(archive: Path, target: Path, allowed: dict[str, int], limits: Limits) -> None:
    """Pass two: write each member, never more bytes than the lock lists for it."""
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for tar, member in _members(archive):
        count += 1
        if count > limits.max_members:
            raise ReplicoderError(f"{archive}: more members than when it was checked; refused")
        _check_member(archive, member)
        path = target.joinpath(*PurePosixPath(member.name).parts)
        if member.isdir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        if member.name not in allowed:
            raise ReplicoderError(f"{archive}: {_shown(member.name)}: not listed in the lock; "
                                  "refused")
        source = tar.extractfile(member)
        assert source is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        with source, open(path, "xb") as fh:
            copy_capped(source, fh, allowed[member.name], f"{archive}: {_shown(member.name)}")


def copy_capped(source: IO[bytes], sink: IO[bytes], limit: int, where: str) -> int:
    """Copy ``source`` to ``sink``; stop with an error before writing byte ``limit + 1``."""
    written = 0
    while block := source.read(BLOCK):
        if written + len(block) > limit:
            raise ReplicoderError(f"{where}: holds more than the {limit:,} bytes the lock "
                                  "lists; refused")
        sink.write(block)
        written += len(block)
    return written
