#!/usr/bin/env bash
# The test command: set up, then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/browser.sh
.venv/bin/ruff check replicoder tests bench scripts docs
.venv/bin/mypy
# The docs site: --strict turns a broken link, a missing page or a bad reference into a failure.
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
