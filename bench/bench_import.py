"""Import throughput and peak memory on a generated 1,000,000-row CSV.

Measures, in separate processes so that peak RSS is each run's own:
  - baseline: parsing the same CSV with the csv module alone (no database);
  - import: `replicoder.importer.import_file` into a fresh study, then a re-import (adds 0);
  - import of a 100,000-row prefix, to show that peak memory does not grow with the file.
Writes bench/results/import.json. Usage: .venv/bin/python bench/bench_import.py [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
WORDS = ("act budget health farm energy school court tax trade defence water road rail bank "
         "veteran child worker price land park science space media immigrant").split()


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    codes = [str(c) for c in [*range(1, 11), *range(12, 22), 23]]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "text", "topic"])
        for i in range(rows):
            text = "To " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))) + "."
            out.writerow([f"d{i}", text, rng.choice(codes)])


CHILD = r"""
import csv, json, resource, sys, time
from pathlib import Path
mode, path, study_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
t = time.perf_counter()
if mode == "parse":
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as fh:
        n = sum(1 for _ in csv.DictReader(fh))
    added = 0
else:
    from replicoder import importer, study
    st = study.open_study(study_dir) if (study_dir / "replicoder.toml").exists() \
        else study.init(study_dir, "cap")
    r = importer.import_file(st, path, text="text", id="id", labels="topic")
    n, added = r.rows_read, r.added
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": n, "added": added, "seconds": seconds, "peak_mib": peak}))
"""


def child(mode: str, path: Path, study_dir: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(study_dir)],
                         check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = result["rows"] / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big, small = work / "big.csv", work / "small.csv"
        make_csv(big, args.rows)
        make_csv(small, max(1, args.rows // 10))
        parse = child("parse", big, work / "unused")
        first = child("import", big, work / "study")
        again = child("import", big, work / "study")
        prefix = child("import", small, work / "study-small")
        db_mib = (work / "study" / "study.db").stat().st_size / 2**20
    report = {
        "rows": args.rows,
        "baseline_csv_parse": parse,
        "import": first,
        "reimport": again,
        "import_tenth": prefix,
        "import_vs_parse_ratio": first["rows_per_s"] / parse["rows_per_s"],
        "peak_mib_ratio_full_vs_tenth": first["peak_mib"] / prefix["peak_mib"],
        "db_mib": db_mib,
        "max_rss_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
