"""One loaded causal LM (optionally with a LoRA adapter) that answers chat messages.

Generation is serialised with a lock: one model, one request at a time. torch,
transformers and peft are imported only when a model is loaded.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replicoder.errors import ReplicoderError
from replicoder.hashing import weights_sha256
from replicoder.models.base import EMBEDDED, load_causal_lm, load_tokenizer, resolve
from replicoder.models.folder import find_adapter
from replicoder.models.generation import Generated, generate
from replicoder.models.runtime import SERVE_DTYPES, pick_device, serve_dtype
from replicoder.run import versions

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["DTYPES", "Engine", "load_engine", "served_name"]

DTYPES = SERVE_DTYPES


@dataclass
class Engine:
    """A served model. ``name`` is the id clients send in the ``model`` field."""

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    info: dict[str, Any]  # base/adapter names and sha256, device, dtype
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def fingerprint(self) -> str:
        """A short hash of base and adapter weights: changes when the weights change."""
        key = f"{self.info['base_sha256']}:{self.info.get('adapter_sha256', '')}"
        return "rc-" + hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def context_length(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of the messages rendered with the tokenizer's chat template."""
        if not getattr(self.tokenizer, "chat_template", None):  # a base model: plain text
            text = "\n\n".join(m["content"] for m in messages) + "\n\n"
            return list(self.tokenizer(text)["input_ids"])
        text = str(self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        ))
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, prompt_ids: list[int], *, max_tokens: int, temperature: float,
                 top_p: float = 1.0, seed: int | None = None,
                 stop: list[str] | None = None,
                 cancel: threading.Event | None = None) -> Generated:
        """Greedy when ``temperature`` is 0, else sampling seeded by ``seed`` (if given).
        Setting ``cancel`` stops generation after the current token."""
        with self.lock:
            return generate(self.model, self.tokenizer, [prompt_ids], max_new_tokens=max_tokens,
                            temperature=temperature, top_p=top_p, seed=seed, stop=stop or (),
                            cancel=cancel)[0]


def served_name(model: str, adapter: Path | None) -> str:
    """Default model id: the adapter folder's name, else the model as given (file stem)."""
    if adapter is not None:
        return adapter.resolve().name
    path = Path(model).expanduser()
    if path.exists():
        return path.stem if path.is_file() else path.resolve().name
    return model


def load_engine(model: str = EMBEDDED, adapter: Path | None = None, *,
                name: str | None = None, device: str | None = None,
                dtype: str = "auto") -> Engine:
    """Resolve and load a base model (and adapter) for serving."""
    adapter_dir, label_map = find_adapter(adapter) if adapter is not None else (None, {})

    base = resolve(model)
    dev = pick_device(device)
    torch_dtype = serve_dtype(dev, dtype)
    tok = load_tokenizer(base)
    lm = load_causal_lm(base, dtype=torch_dtype, device=dev)
    info: dict[str, Any] = {"base": base.name, "base_sha256": base.sha256, "device": dev,
                            "dtype": str(torch_dtype).removeprefix("torch."),
                            "versions": versions(("replicoder", "torch", "transformers", "peft"))}
    if adapter is not None and adapter_dir is not None:
        from peft import PeftModel

        try:
            lm = PeftModel.from_pretrained(lm, str(adapter_dir)).merge_and_unload()
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise ReplicoderError(
                f"cannot load adapter {adapter} on model {model!r}: {exc}. Was it trained on "
                "this base model? Pass the same --model it was trained on"
            ) from exc
        info.update(adapter=str(adapter), adapter_sha256=weights_sha256(adapter_dir))
        if label_map.get("instruction"):
            info["instruction"] = label_map["instruction"]  # the system prompt it learned
    lm.eval()
    return Engine(name or served_name(model, adapter), lm, tok, info)
