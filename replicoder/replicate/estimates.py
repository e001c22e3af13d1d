"""`estimate` and `estimate regress` runs in a frozen study: what ``freeze`` carries and how
``reproduce`` re-checks them.

Such a run reads a classified file (its ``predictions``), the study's random validation
sample (its design and the verified labels, both in study.db) and its settings (the run's
manifest). ``freeze`` carries the predictions file when it lies in the study and still has
the sha256 the run recorded, and the run's result tables (and figure) under
``runs/ID/``; a run whose inputs are gone or changed is listed in the lock as not
reproducible, with the reason. ``reproduce`` runs the library's own ``estimate`` or
``regress`` again with the recorded settings on the unpacked study (nothing of the
archive is executed: the predictions are read as data) and compares the tables row by row.

The estimators are deterministic (no resampling; DSL's cross-fitting folds come from a
hash of the document ids and a fixed seed), so on the same numpy build the numbers come
back bit for bit. Another machine's BLAS may sum in another order, and an iterative logit
fit carries that rounding on, so numbers must agree to ``REL_TOL`` relative (``ABS_TOL``
absolute near zero): far below the 3 decimals the tables print, far above float64 rounding.
Row keys (labels, groups, terms, methods, counts) must be identical. When the sample's
verified labels differ from those the run used (``verified_sha256`` in its manifest), the
study was reviewed again after the run, and the check says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from replicoder.errors import ReplicoderError
from replicoder.hashing import file_sha256
from replicoder.run import MANIFEST
from replicoder.study import Study

__all__ = ["ABS_TOL", "KINDS", "REL_TOL", "Outcome", "command", "estimate_runs", "rerun",
           "result_files", "run_manifests"]

KINDS = ("estimate", "regress")
REL_TOL = 1e-9
ABS_TOL = 1e-12
TABLES = {"estimate": ("shares.parquet", "shares.csv"),
          "regress": ("coefficients.parquet", "coefficients.csv")}
EXTRA = {"estimate": ("shares.png",), "regress": ("power.csv", "coefficients.png")}


class Outcome(NamedTuple):
    """One check's result: what was checked, whether it passed, why, the number measured."""

    what: str
    passed: bool
    detail: str
    value: float | None = None


def run_manifests(runs_dir: Path) -> Iterator[tuple[str, Any]]:
    """(run id, manifest) of every run folder's manifest (links skipped), in name order."""
    for path in sorted(runs_dir.glob(f"*/{MANIFEST}")):
        if path.is_symlink():
            continue
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ReplicoderError(f"{path}: unreadable run manifest ({exc}); remove the run "
                                  "folder or restore the file") from exc
        yield path.parent.name, data


def _inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _problem(root: Path, runs_dir: Path, run_id: str, m: dict[str, Any], frozen: bool
             ) -> tuple[str | None, dict[str, Path]]:
    """(why the run cannot be re-checked, or None; its recorded result files by name).
    ``frozen``: an unpacked archive, whose tables are under runs/ID/ and nowhere else."""
    source = m.get("predictions")
    if not isinstance(source, dict) or not isinstance(source.get("path"), str):
        return "its manifest names no predictions file", {}
    path = root / source["path"]
    if not _inside(root, path):
        return f"its predictions file ({source['path']}) lies outside the study", {}
    if not path.is_file() or path.is_symlink():
        return f"its predictions file ({source['path']}) is no longer in the study", {}
    if file_sha256(path) != source.get("sha256"):
        return (f"its predictions file ({source['path']}) was changed after the run (its "
                "sha256 differs from the recorded one)"), {}
    kind = str(m["kind"])
    out = runs_dir / run_id  # the default output folder, and where freeze puts the tables
    if not frozen and not any((out / name).is_file() for name in TABLES[kind]):
        out = root / str(m.get("output", f"runs/{run_id}"))
        copy = out / MANIFEST
        try:
            same = json.loads(copy.read_text("utf-8")).get("run_id") == run_id
        except (OSError, json.JSONDecodeError, AttributeError):
            same = False
        if not same:
            return (f"its output folder ({m.get('output')}) is gone or a later run wrote "
                    "over it"), {}
    found = {name: out / name for name in (*TABLES[kind], *EXTRA[kind])
             if (out / name).is_file() and not (out / name).is_symlink()}
    if not any(name in found for name in TABLES[kind]):
        return f"its result table ({TABLES[kind][0]}) is not in {m.get('output')}", {}
    return None, found


def estimate_runs(root: Path, runs_dir: Path, frozen: bool = False
                  ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(the estimate and regress runs that can be re-checked: run id -> manifest with
    "_results", their result files by name; those that cannot: run id -> why).
    ``frozen``: the study is an unpacked archive (nothing outside it is read)."""
    runs: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for run_id, m in run_manifests(runs_dir):
        if not isinstance(m, dict) or m.get("kind") not in KINDS:
            continue
        why, found = _problem(root, runs_dir, run_id, m, frozen)
        if why:
            skipped[run_id] = why
        else:
            runs[run_id] = {**m, "_results": found}
    return runs, skipped


def result_files(root: Path, runs: Mapping[str, dict[str, Any]]
                 ) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """(the result files to pack, under runs/ID/; the predictions files they read), each as
    (name inside the study, path)."""
    results = [(f"runs/{run_id}/{name}", path) for run_id, m in runs.items()
               for name, path in m["_results"].items()]
    inputs = [(Path(m["predictions"]["path"]).as_posix(), root / m["predictions"]["path"])
              for m in runs.values()]
    return results, inputs


def command(m: Mapping[str, Any]) -> str:
    """The command line that made the run's numbers."""
    source = m["predictions"]
    head = (f"replicoder estimate{' regress' if m['kind'] == 'regress' else ''} "
            f"--predictions {source['path']}")
    parts = [head, f"--id {source.get('id_column', 'id')}", f"--level {m.get('level')}"]
    parts += [f"--method {x}" for x in m.get("methods", [])]
    if m.get("sample_id"):
        parts.append(f"--sample {m['sample_id']}")
    if m.get("allow_incomplete"):
        parts.append("--allow-incomplete")
    if m["kind"] == "estimate":
        parts += [f"--by {c}" for c in m.get("by", [])] + [f"--use {m.get('use', 'labels')}"]
        if m.get("intensities"):
            parts.append("--intensities")
        return " ".join(parts)
    parts += [f"--outcome {m['outcome']}", f"--outcome-from {m.get('outcome_from')}",
              f"--model {m.get('model')}"]
    parts += [f"--covariates {c}" for c in m.get("covariates", [])]
    parts += [f"--categorical {c}" for c in m.get("categorical", [])]
    parts += [f"--reference {c}={v}" for c, v in m.get("reference_levels", {}).items()]
    if m.get("cluster"):
        parts.append(f"--cluster {m['cluster']}")
    if m.get("power_target_se") is not None:
        parts.append(f"--power {m['power_target_se']}")
    return " ".join(parts)


def _again(study: Study, m: Mapping[str, Any], out: Path) -> dict[str, Any]:
    """Run the estimate again with the recorded settings; its manifest."""
    source = m["predictions"]
    path = study.root / source["path"]
    common: dict[str, Any] = {"level": float(m["level"]), "methods": list(m["methods"]),
              "sample_id": m.get("sample_id"), "id_column": str(source.get("id_column", "id")),
              "allow_incomplete": bool(m.get("allow_incomplete")), "out_dir": out,
              "figure": False}
    if m["kind"] == "estimate":
        from replicoder.estimate.corpus import estimate

        return estimate(study, path, by=list(m.get("by", [])), use=str(m.get("use", "labels")),
                        intensities=bool(m.get("intensities")), **common).manifest
    from replicoder.estimate.coefficients import regress

    return regress(study, path, outcome=str(m["outcome"]), covariates=list(m["covariates"]),
                   outcome_from=str(m.get("outcome_from", "labels")),
                   model=str(m.get("model", "ols")), cluster=m.get("cluster"),
                   categorical=list(m.get("categorical", [])),
                   reference=dict(m.get("reference_levels", {})),
                   power_se=m.get("power_target_se"), **common).manifest


def rerun(study: Study, run_id: str, m: Mapping[str, Any], workdir: Path
          ) -> tuple[list[Outcome], list[Path]]:
    """Re-run one estimate or regress run and compare its tables with the recorded ones;
    (the checks, the diff files written)."""
    out = workdir / "reproduced" / run_id
    try:
        new = _again(study, m, out)
    except ReplicoderError as exc:
        return [Outcome("re-run", False, f"the re-run stopped: {exc}")], []
    checks: list[Outcome] = []
    if m.get("verified_sha256"):
        same = new.get("verified_sha256") == m["verified_sha256"]
        checks.append(Outcome(
            "verified labels as at the run", same,
            "same labels" if same else "the sample's verified labels (or those verified "
            "before it) differ from the ones the run used: documents were reviewed again "
            "after the run, so its numbers cannot come back"))
    diffs: list[Path] = []
    names = [TABLES[m["kind"]][0], "power.csv"]
    recorded = study.runs_dir / run_id
    if not (recorded / names[0]).is_file():
        names[0] = TABLES[m["kind"]][1]
    for name in names:
        if not (recorded / name).is_file():
            continue
        outcome, diff = compare_tables(recorded / name, out / name)
        checks += outcome
        if diff is not None and len(diff):
            path = workdir / "diffs" / f"{run_id}-{Path(name).stem}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            diff.to_csv(path, index=False)
            diffs.append(path)
    return checks, diffs


def _read(path: Path) -> Any:
    import pandas as pd

    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, keep_default_na=True)


def compare_tables(recorded: Path, reproduced: Path) -> tuple[list[Outcome], Any]:
    """Rows matched on the columns that are not floats (labels, groups, terms, methods,
    counts), floats compared within ``REL_TOL``; (the checks, the rows that differ)."""
    import pandas as pd

    name = recorded.name
    if not reproduced.is_file():
        return [Outcome(f"{name}: written", False, "the re-run wrote no such table")], None
    old, new = _read(recorded), _read(reproduced)
    if list(old.columns) != list(new.columns):
        return [Outcome(f"{name}: columns", False,
                        f"recorded {list(old.columns)}, reproduced {list(new.columns)}")], None
    numbers = [c for c in old.columns if pd.api.types.is_float_dtype(old[c])
               and pd.api.types.is_float_dtype(new[c])]
    keys = [c for c in old.columns if c not in numbers]
    old[keys], new[keys] = old[keys].astype(str), new[keys].astype(str)
    both = old.merge(new, on=keys, how="outer", suffixes=("_recorded", "_reproduced"),
                     indicator="side")
    same = (both["side"] == "both").to_numpy()
    dup = old[keys].duplicated().any() or new[keys].duplicated().any()
    missing = int((~same).sum())
    gap = np.zeros(len(both))
    for c in numbers:
        a = both[f"{c}_recorded"].to_numpy(float)
        b = both[f"{c}_reproduced"].to_numpy(float)
        with np.errstate(invalid="ignore"):
            rel = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), ABS_TOL / REL_TOL)
        rel = np.where((a == b) | (np.isnan(a) & np.isnan(b)), 0.0,
                       np.nan_to_num(rel, nan=np.inf))
        gap = np.maximum(gap, rel)
    worst = float(gap[same].max()) if same.any() else 0.0
    checks = [Outcome(f"{name}: rows", missing == 0 and not dup,
                      f"{missing} rows only on one side" if missing else
                      ("rows repeat a key" if dup else f"same {int(same.sum())} rows")),
              Outcome(f"{name}: numbers within {REL_TOL:g} relative", worst <= REL_TOL,
                      f"largest relative difference {worst:.1e} over {len(numbers)} columns",
                      worst)]
    differ = ~same | (gap > REL_TOL)
    sides = {"both": "both", "left_only": "recorded only", "right_only": "reproduced only"}
    both["side"] = both["side"].astype(str).map(sides)
    return checks, both[differ]
