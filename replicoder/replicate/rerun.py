"""Re-run a frozen study and compare the answers: ``replicoder reproduce``.

The archive is untrusted (``replicoder.unpack``): its lock is read first and members with
absolute paths, ``..``, links, devices, pickles or code, unlisted or larger than listed, or
beyond the caps on count and size are refused before they are written; model folders with
``auto_map`` are refused before anything is loaded; nothing in it is imported or unpickled,
and a refused archive is removed. Then the
environment is compared with the lock (a warning per difference), every hash is checked
(adapters against their manifests, the codebook against the runs, each file against the
lock), and each evaluate and classify run is re-run with its recorded settings and
precision. Metrics must match to ``DECIMALS`` places, labels exactly and scores within
``TOLERANCE`` of the recorded precision. Each ``estimate`` and ``estimate regress`` run is
re-run from the frozen predictions, sample design and verified labels, its tables compared
row by row (:mod:`replicoder.replicate.estimates`: numbers within 1e-9 relative).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from replicoder.errors import ReplicoderError, lines
from replicoder.hashing import file_sha256
from replicoder.models.adapter_check import run_adapter_problems
from replicoder.models.folder import ModelFolder, trained_names
from replicoder.replicate.archive import LOCK, STUDY, environment, reproducible_runs
from replicoder.replicate.estimates import estimate_runs, rerun
from replicoder.replicate.unpack import Limits, check_no_code, remove_unpacked, unpack_archive
from replicoder.run import Run
from replicoder.study import Study, open_study

__all__ = ["DECIMALS", "STEPS", "TOLERANCE", "Check", "Limits", "ReproduceResult", "reproduce",
           "unpack"]

STEPS = ("evaluate", "classify", "estimate", "regress")
DECIMALS = 3  # the tables print metrics to 3 decimals
# largest score difference accepted, by the precision the run used; measured in
# tests/test_reproduce.py (fp32: < 1e-6 across block sizes) and stated in the README
TOLERANCE = {"fp32": 1e-4, "bf16": 2e-2}


@dataclass
class Check:
    step: str
    run_id: str
    what: str
    passed: bool
    detail: str = ""
    value: float | None = None  # the measured number (largest score difference)


@dataclass
class ReproduceResult:
    workdir: Path
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    diffs: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)


def reproduce(archive: Path, workdir: Path | None = None, *,
              steps: tuple[str, ...] = STEPS, sample: int | None = None,
              checkpoint_every: int | None = None, limits: Limits | None = None
              ) -> ReproduceResult:
    """Unpack ``archive`` into ``workdir`` (new or empty), check it, re-run ``steps``.
    ``limits``: the most members and bytes the archive may unpack to."""
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ReplicoderError(f"--steps {','.join(unknown)}: use {', '.join(STEPS)}")
    if sample is not None and sample < 1:
        raise ReplicoderError("--sample must be at least 1")
    existed = workdir is not None and Path(workdir).exists()
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="replicoder-repro-"))
    if workdir.exists() and any(workdir.iterdir()):
        raise ReplicoderError(f"--workdir {workdir} is not empty; give a new or empty folder")
    try:
        lock, study = _checked(archive, workdir, limits)
    except ReplicoderError as exc:
        raise ReplicoderError(f"{exc}\n{remove_unpacked(workdir, existed)}") from None
    except RecursionError:
        raise ReplicoderError(f"{archive}: a file in it is nested too deeply to read; "
                              f"refused\n{remove_unpacked(workdir, existed)}") from None
    result = ReproduceResult(workdir, warnings=environment_warnings(lock["environment"]))
    if not lock.get("texts", True):
        raise ReplicoderError(f"{archive}: frozen with --no-texts (documents hold only their "
                              "sha256); put the texts back into study/study.db to re-run "
                              f"(unpacked in {workdir})")
    for name in trained_names(study.models_dir):
        _use_frozen_base(study, name, workdir / "base" / name)
    run = Run.start(study, "reproduce")
    for run_id, m in reproducible_runs(study.root, study.runs_dir).items():
        if m["kind"] not in steps:
            continue
        try:
            if m["kind"] == "evaluate":
                _evaluate(study, run_id, m, lock, result)
            else:
                _classify(study, run_id, m, result, sample, checkpoint_every)
        except RecursionError:
            raise ReplicoderError(f"{archive}: run {run_id}: a file of it is nested too "
                                  f"deeply to read; refused (unpacked in {workdir})") from None
    _estimates(study, lock, steps, result)
    if not result.checks:
        result.warnings.append("the archive holds no run of the steps asked for: nothing "
                               "was compared")
    run.write({"archive": str(Path(archive).name), "archive_sha256": file_sha256(Path(archive)),
               "steps": list(steps), "sample": sample, "checkpoint_every": checkpoint_every,
               "passed": result.passed, "warnings": result.warnings,
               "checks": [c.__dict__ for c in result.checks]})
    return result


def _estimates(study: Study, lock: dict[str, Any], steps: tuple[str, ...],
               result: ReproduceResult) -> None:
    """Re-run each estimate and regress run of ``steps``; say which the archive could not
    carry."""
    for run_id, why in sorted(lock.get("not_reproducible", {}).items()):
        result.warnings.append(f"{run_id}: not re-run: {why}")
    runs, skipped = estimate_runs(study.root, study.runs_dir, frozen=True)
    for run_id, why in skipped.items():
        if run_id not in lock.get("not_reproducible", {}):
            result.warnings.append(f"{run_id}: not re-run: {why}")
    for run_id, m in runs.items():
        if m["kind"] not in steps:
            continue
        checks, diffs = rerun(study, run_id, m, result.workdir)
        result.checks += [Check(m["kind"], run_id, c.what, c.passed, c.detail, c.value)
                          for c in checks]
        result.diffs += diffs


def _checked(archive: Path, workdir: Path, limits: Limits | None
             ) -> tuple[dict[str, Any], Study]:
    """Unpack within ``limits``, refuse code, check every hash: the lock and the study."""
    lock = unpack_archive(archive, workdir, limits)
    check_no_code(workdir)
    if not isinstance(lock.get("environment"), dict):
        raise ReplicoderError(f"{archive}: {LOCK} has no environment; not an archive made by "
                              "`replicoder freeze`")
    study = open_study(workdir / STUDY)
    problems = integrity(study, lock, workdir)
    if problems:
        raise ReplicoderError("the archive was changed after it was frozen:\n- "
                              + lines(problems, 20).replace("\n", "\n- "))
    return lock, study


def unpack(archive: Path, target: Path, limits: Limits | None = None) -> list[str]:
    """Extract ``archive`` within ``limits`` after checking it against its lock; the names
    written."""
    lock = unpack_archive(archive, target, limits)
    return sorted({LOCK, *lock["files"]})


def environment_warnings(recorded: dict[str, Any]) -> list[str]:
    """One line per difference between the recorded environment and this one."""
    now = environment()
    out = [f"{key}: recorded {recorded.get(key)}, here {now[key]}"
           for key in ("python", "machine") if recorded.get(key) != now[key]]
    torch = recorded.get("torch")
    for key, value in (torch if isinstance(torch, dict) else {}).items():
        if now["torch"].get(key) != value:
            out.append(f"torch {key}: recorded {value}, here {now['torch'].get(key)}")
    packages = now["packages"]
    recorded_packages = recorded.get("packages")
    for name, version in (recorded_packages if isinstance(recorded_packages, dict)
                          else {}).items():
        if packages.get(name) != version:
            out.append(f"package {name}: recorded {version}, here "
                       f"{packages.get(name, 'not installed')}")
    return out


def integrity(study: Study, lock: dict[str, Any], workdir: Path) -> list[str]:
    """Every difference between the files and the hashes recorded when they were made."""
    problems: list[str] = []
    for name in trained_names(study.models_dir):
        folder = ModelFolder.of(study.models_dir, name)
        want, got = folder.manifest().get("adapter_sha256"), folder.adapter_sha256()
        if want != got:
            problems.append(f"model {name!r}: the adapter (models/{name}/adapter) has sha256 "
                            f"{got[:12]}, its manifest says {str(want)[:12]}: the adapter "
                            "was changed after training")
    claimed = {name: ModelFolder.of(study.models_dir, name).manifest().get("adapter_sha256")
               for name in trained_names(study.models_dir)}
    problems += run_adapter_problems(reproducible_runs(study.root, study.runs_dir).items(),
                                     claimed)
    book = study.codebook.sha256
    made_with = {m.get("codebook_sha256") for m in _all_manifests(study)} | {
        lock.get("codebook_sha256")}
    if made_with - {book, None}:
        problems.append(f"the codebook ({study.config['study'].get('codebook', 'codebook')}) "
                        f"has sha256 {book[:12]}, but the runs and models were made with "
                        f"{', '.join(sorted(str(h)[:12] for h in made_with - {book, None}))}: "
                        "the codebook was changed")
    listed = set(lock.get("files", {})) | {LOCK, "README.md"}
    for path in sorted(p for p in workdir.rglob("*") if p.is_file()):
        name = path.relative_to(workdir).as_posix()
        if name not in listed:
            problems.append(f"{name}: not listed in the lock (added after freezing)")
    for name, sha in lock.get("files", {}).items():
        path = workdir.joinpath(*PurePosixPath(name).parts)
        if not path.is_file():
            problems.append(f"{name}: listed in the lock but missing from the archive")
        elif file_sha256(path) != sha:
            problems.append(f"{name}: its sha256 differs from the lock's")
    return problems


def _all_manifests(study: Study) -> Iterator[dict[str, Any]]:
    for name in trained_names(study.models_dir):
        yield ModelFolder.of(study.models_dir, name).manifest()
    for path in sorted(study.runs_dir.glob("*/manifest.json")):
        yield json.loads(path.read_text("utf-8"))


def _use_frozen_base(study: Study, model: str, frozen: Path) -> None:
    """Load ``model`` on the base weights frozen into the archive, when they are there."""
    if not frozen.is_dir():
        return
    ggufs = sorted(frozen.glob("*.gguf"))
    base = ggufs[0] if len(ggufs) == 1 and not (frozen / "config.json").is_file() else frozen
    ModelFolder.of(study.models_dir, model).update_settings(base=str(base.resolve()))


def _pin(study: Study, model: str, precision: str | None) -> None:
    """Run ``model`` in the precision recorded, not the one this CPU would choose."""
    if precision not in TOLERANCE:
        return
    ModelFolder.of(study.models_dir, model).update_settings(precision=precision)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _evaluate(study: Study, run_id: str, m: dict[str, Any], lock: dict[str, Any],
              result: ReproduceResult) -> None:
    from replicoder.evaluate.compare import evaluate_models

    kinds = {k: v.get("kind") for k, v in m["models"].items()}
    models = [k for k, v in kinds.items() if v in ("fine-tuned", "zero-shot")]
    precisions = set()
    for name in models:
        if kinds[name] == "fine-tuned":
            precision = lock["models"].get(name, {}).get("precision")
            precisions.add(precision)
            _pin(study, name, precision)
    annotators = [k for k, v in kinds.items() if v == "annotator"]
    baseline = next((k for k, v in kinds.items() if v == "baseline"), None)
    new = evaluate_models(study, models, annotators=annotators or False, baseline=baseline,
                          split=m["split_part"], n_boot=int(m["bootstrap"]["n_boot"]),
                          train_rows="train" in m["parts"] and m["split_part"] != "train",
                          seed=int(m["bootstrap"]["seed"]))
    old = json.loads((study.runs_dir / run_id / "metrics.json").read_text("utf-8"))
    for name, entry in old["models"].items():
        was = _flat(_rounded(entry["parts"]))
        now = _flat(_rounded(new["models"].get(name, {}).get("parts", {})))
        differ = [k for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
        detail = "; ".join(f"{k}: {was.get(k)} -> {now.get(k)}" for k in differ[:3])
        result.checks.append(Check("evaluate", run_id, f"{name}: metrics to {DECIMALS} decimals",
                                   not differ, detail or f"{len(was)} numbers equal"))
    tol = max((TOLERANCE.get(str(p), TOLERANCE["fp32"]) for p in precisions),
              default=TOLERANCE["fp32"])
    _compare_predictions(study, run_id, Path(new["run_dir"]), tol, result)


def _compare_predictions(study: Study, run_id: str, new_dir: Path, tol: float,
                         result: ReproduceResult) -> None:
    import pandas as pd

    key = ["model", "part", "doc_id"]
    old = pd.read_parquet(study.runs_dir / run_id / "predictions.parquet")
    new = pd.read_parquet(new_dir / "predictions.parquet")
    both = old.merge(new, on=key, how="outer", suffixes=("_recorded", "_reproduced"),
                     indicator=True)
    same = both["_merge"] == "both"
    labels = [sorted(a) if isinstance(a, list | np.ndarray) else None
              for a in both["predicted_recorded"]]
    labels_new = [sorted(a) if isinstance(a, list | np.ndarray) else None
                  for a in both["predicted_reproduced"]]
    changed = same & pd.Series([a != b for a, b in zip(labels, labels_new, strict=True)],
                               index=both.index)
    gaps = [_gap(a, b) for a, b in zip(both["scores_recorded"], both["scores_reproduced"],
                                       strict=True)]
    both["score_gap"] = gaps
    moved = same & (both["score_gap"] > tol)
    _record(result, "evaluate", run_id, int((~same).sum()), int(changed.sum()),
            float(np.nanmax(gaps)) if len(gaps) and not np.all(np.isnan(gaps)) else 0.0, tol,
            both[~same | changed | moved][[*key, "predicted_recorded", "predicted_reproduced",
                                           "score_gap"]])


def _gap(a: Any, b: Any) -> float:
    if a is None or b is None or len(a) == 0:
        return float("nan") if (a is None) != (b is None) else 0.0
    x, y = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(invalid="ignore"):
        gap = np.where(x == y, 0.0, np.abs(x - y))  # equal infinities are no difference
    return float(np.nan_to_num(gap, nan=np.inf).max())


def _record(result: ReproduceResult, step: str, run_id: str, missing: int, changed: int,
            gap: float, tol: float, diff: Any, ties: int = 0) -> None:
    """Add the documents, labels and scores checks; write the diff of changed answers.
    ``ties``: of the ``changed``, those whose two labels' recorded scores were within twice
    the score tolerance (a tie at this precision: either answer is a faithful re-run)."""
    result.checks.append(Check(step, run_id, "documents", missing == 0,
                               f"{missing} documents only on one side" if missing else
                               "same documents"))
    tie_note = f" ({ties} at a tie within {2 * tol:g}, accepted)" if ties else ""
    result.checks.append(Check(step, run_id, "labels identical", changed == ties,
                               f"{changed} documents changed label{tie_note}" if changed else
                               "all equal", float(changed - ties)))
    result.checks.append(Check(step, run_id, f"scores within {tol:g}", not gap > tol,
                               f"largest difference {gap:.2e}", gap))
    if len(diff):
        path = result.workdir / "diffs" / f"{run_id}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        diff.to_csv(path, index=False)
        result.diffs.append(path)


def _classify(study: Study, run_id: str, m: dict[str, Any], result: ReproduceResult,
              sample: int | None, checkpoint_every: int | None) -> None:
    import pandas as pd

    from replicoder.classify.local import classify
    from replicoder.models.runtime import pick_device

    recorded = _read_table(study.root / m["_output"])
    source = m.get("input", {})
    input_path = study.root / source["path"] if "path" in source else None
    text, id_column = m.get("text", "text"), m.get("id")
    if sample is not None and input_path is None and sample < len(recorded):
        rng = np.random.default_rng(study.seed)
        ids = [str(recorded["id"].iloc[i])
               for i in sorted(rng.choice(len(recorded), sample, replace=False))]
        with study.store() as store:
            docs = store.documents(ids)
        input_path = result.workdir / "samples" / f"{run_id}.csv"
        input_path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"id": [d.doc_id for d in docs], "text": [d.text for d in docs]}).to_csv(
            input_path, index=False)
        text, id_column = "text", "id"
    elif sample is not None and input_path is not None:
        result.warnings.append(f"{run_id}: --sample applies to runs on the study's documents; "
                               "its input file is classified whole")
    precision = m.get("precision")
    _pin(study, m["model"], precision)
    device = m.get("device")
    try:
        device = pick_device(device)
    except ReplicoderError:
        result.warnings.append(f"{run_id}: ran on {device}, which is not here; using the CPU")
        device = "cpu"
    out = result.workdir / "reproduced" / f"{run_id}{Path(m['output']).suffix}"
    classify(study, m["model"], out, input=input_path, text=text, id_column=id_column,
             checkpoint_every=checkpoint_every or int(m["checkpoint_every"]), device=device)
    new = _read_table(out)
    tol = TOLERANCE.get(str(precision), TOLERANCE["fp32"])
    both = recorded.merge(new, on="id", how="right", suffixes=("_recorded", "_reproduced"),
                          indicator=True)
    same = both["_merge"] == "both"
    changed = same & (both["labels_recorded"].astype(str) != both["labels_reproduced"].astype(str))
    score_cols = [c for c in recorded.columns if c.startswith("score_")]
    gaps = np.zeros(len(both))
    if score_cols and same.any():
        a = both[[f"{c}_recorded" for c in score_cols]].to_numpy(float)
        b = both[[f"{c}_reproduced" for c in score_cols]].to_numpy(float)
        gaps = np.nan_to_num(np.abs(a - b).max(axis=1), nan=np.inf)
    both["score_gap"] = gaps
    moved = same & (both["score_gap"] > tol)
    ties = 0 if study.codebook.multi_label else sum(
        _tie(row, tol) for _, row in both[changed].iterrows())
    _record(result, "classify", run_id, int((~same).sum()), int(changed.sum()),
            float(gaps[same.to_numpy()].max()) if same.any() else 0.0, tol,
            both[~same | changed | moved][["id", "labels_recorded", "labels_reproduced",
                                           "score_gap"]], ties)


def _tie(row: Any, tol: float) -> bool:
    """A single-label answer that changed between two labels whose recorded scores were
    within 2 * tol of each other."""
    was, now = str(row["labels_recorded"]), str(row["labels_reproduced"])
    keys = (f"score_{was}_recorded", f"score_{now}_recorded")
    if not all(k in row.index for k in keys):
        return False
    return bool(abs(float(row[keys[0]]) - float(row[keys[1]])) <= 2 * tol)


def _read_table(path: Path) -> Any:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        df = pd.read_parquet(path)
    elif suffix == ".csv":
        df = pd.read_csv(path, dtype={"id": str, "labels": str}, keep_default_na=False)
    elif suffix == ".jsonl":
        df = pd.read_json(path, lines=True, dtype={"id": str, "labels": str})
    elif suffix == ".dta":
        df = pd.read_stata(path)
    else:
        raise ReplicoderError(f"{path}: cannot compare a {suffix} output")
    df["id"] = df["id"].astype(str)
    return df
