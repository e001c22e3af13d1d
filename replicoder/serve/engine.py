"""One loaded causal LM (optionally with a LoRA adapter) that answers chat messages.

Generation is serialised with a lock: one model, one request at a time. torch,
transformers and peft are imported only when a model is loaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replicoder.errors import ReplicoderError
from replicoder.models import loading

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Completion:
    """What the model said, with token counts; ``finish_reason`` is "stop" or "length"."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


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
                 cancel: threading.Event | None = None) -> Completion:
        """Greedy when ``temperature`` is 0, else sampling seeded by ``seed`` (if given).
        Setting ``cancel`` stops generation after the current token."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> Any:
                stop_now = cancel is not None and cancel.is_set()
                return torch.full((input_ids.shape[0],), stop_now, dtype=torch.bool,
                                  device=input_ids.device)

        kwargs: dict[str, Any] = {"max_new_tokens": max_tokens,
                                  "pad_token_id": self.tokenizer.pad_token_id}
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs.update(stop_strings=stop, tokenizer=self.tokenizer)
        if cancel is not None:
            kwargs["stopping_criteria"] = StoppingCriteriaList([Cancelled()])
        ids = torch.tensor([prompt_ids], device=self.model.device)
        with self.lock, torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            lm: Any = self.model
            out = lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        new = out[0, len(prompt_ids):].tolist()
        return self._completion(len(prompt_ids), new, max_tokens, stop or [])

    def _completion(self, n_prompt: int, new: list[int], max_tokens: int,
                    stop: list[str]) -> Completion:
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        finish = "length" if len(new) >= max_tokens else "stop"
        for i, tok in enumerate(new):
            if tok in eos_ids:
                new, finish = new[:i], "stop"
                break
        text = str(self.tokenizer.decode(new, skip_special_tokens=True))
        cuts = [text.find(s) for s in stop if s in text]
        if cuts:
            text, finish = text[:min(cuts)], "stop"
        return Completion(text, n_prompt, len(new), finish)


# A replicoder model folder (models/NAME, see replicoder.train.trained) keeps the peft
# adapter in adapter/ and the prompt it was trained with in label_map.json.
MODEL_ADAPTER = "adapter"
MODEL_LABEL_MAP = "label_map.json"


def find_adapter(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The peft adapter folder inside ``folder`` (itself, or a replicoder model's adapter/)
    and what the model folder's label_map.json says (``{}`` if none).

    A clear error unless it is a generator (causal LM) LoRA.
    """
    if not folder.is_dir():
        raise ReplicoderError(f"adapter {folder}: no such folder; give a peft adapter folder "
                              "or a replicoder model folder (models/NAME)")
    label_map: dict[str, Any] = {}
    adapter = folder
    if not (folder / "adapter_config.json").is_file() and (folder / MODEL_ADAPTER).is_dir():
        adapter = folder / MODEL_ADAPTER
        label_map = _read_json(folder / MODEL_LABEL_MAP) if (
            folder / MODEL_LABEL_MAP).is_file() else {}
    config_path = adapter / "adapter_config.json"
    if not config_path.is_file():
        raise ReplicoderError(
            f"adapter {folder}: no adapter_config.json; give a folder saved by peft "
            "or a replicoder model folder (models/NAME)"
        )
    config = _read_json(config_path)
    if config.get("task_type") == "SEQ_CLS" or label_map.get("mode") == "classifier":
        raise ReplicoderError(
            f"adapter {folder} is a classifier (task_type SEQ_CLS) and cannot chat; serve a "
            "generator adapter (task_type CAUSAL_LM, `replicoder train --mode generative`), "
            "or use `replicoder classify`"
        )
    return adapter, label_map


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReplicoderError(f"{path}: not valid JSON ({exc}); save it again") from exc
    if not isinstance(data, dict):
        raise ReplicoderError(f"{path}: expected a JSON object")
    return data


def _versions() -> dict[str, str]:
    out = {}
    for package in ("replicoder", "torch", "transformers", "peft"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def served_name(model: str, adapter: Path | None) -> str:
    """Default model id: the adapter folder's name, else the model as given (file stem)."""
    if adapter is not None:
        return adapter.resolve().name
    path = Path(model).expanduser()
    if path.exists():
        return path.stem if path.is_file() else path.resolve().name
    return model


def load_engine(model: str = loading.EMBEDDED, adapter: Path | None = None, *,
                name: str | None = None, device: str | None = None,
                dtype: str = "auto") -> Engine:
    """Resolve and load a base model (and adapter) for serving."""
    if dtype not in DTYPES:
        raise ReplicoderError(f"dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    adapter_dir, label_map = find_adapter(adapter) if adapter is not None else (None, {})
    import torch

    base = loading.resolve(model)
    dev = loading.pick_device(device)
    if dtype == "auto":
        torch_dtype = torch.bfloat16 if dev.startswith("cuda") else torch.float32
    else:
        torch_dtype = getattr(torch, dtype)
    tok = loading.load_tokenizer(base)
    lm = loading.load_causal_lm(base, dtype=torch_dtype, device=dev)
    info: dict[str, Any] = {"base": base.name, "base_sha256": base.sha256, "device": dev,
                            "dtype": str(torch_dtype).removeprefix("torch."),
                            "versions": _versions()}
    if adapter is not None and adapter_dir is not None:
        from peft import PeftModel

        try:
            lm = PeftModel.from_pretrained(lm, str(adapter_dir)).merge_and_unload()
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise ReplicoderError(
                f"cannot load adapter {adapter} on model {model!r}: {exc}. Was it trained on "
                "this base model? Pass the same --model it was trained on"
            ) from exc
        info.update(adapter=str(adapter), adapter_sha256=loading.weights_sha256(adapter_dir))
        if label_map.get("instruction"):
            info["instruction"] = label_map["instruction"]  # the system prompt it learned
    lm.eval()
    return Engine(name or served_name(model, adapter), lm, tok, info)
