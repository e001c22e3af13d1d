"""TrainConfig: every setting of a training run, saved as JSON next to the adapter."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.models.chunks import LONG
from replicoder.models.classifier import TEXT, check_template
from replicoder.models.length import CAP
from replicoder.models.runtime import BASE_DTYPES, PRECISIONS

Mode = Literal["classifier", "generative"]
Source = Literal["gold", "verified"]
MODES: tuple[str, ...] = get_args(Mode)
SOURCES: tuple[str, ...] = get_args(Source)
QUANTIZE = (None, "4bit")
# Measured on the US bills split (bench/bench_train.py): the classifier reached 0.827
# at 3e-4 and 0.808 at 1e-3; generative mode 0.653 at 3e-4 and 0.795 at 1e-3.
DEFAULT_LR = {"classifier": 3e-4, "generative": 1e-3}
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class TrainConfig:
    """Settings of one fine-tuning run (LoRA on a causal LM).

    ``mode``: "classifier" (a sequence-classification head; softmax for single-label
    codebooks, sigmoid + per-label thresholds for multi-label ones) or "generative"
    (instruction tuning to write the codes). ``source``: which labels to learn from.
    ``eval_every``: optimizer steps between validation checks (0: once per epoch);
    training stops early after ``patience`` checks without improvement.
    ``lr``: learning rate of the LoRA weights; None picks the mode's DEFAULT_LR.
    ``precision``: "auto" (bf16 autocast where the hardware has it), "bf16" or "fp32".
    ``lora_alpha``: LoRA scaling numerator; None gives 2 * ``lora_r``.
    Checkpoints go to disk at each epoch end, every ``checkpoint_minutes`` and, when
    ``checkpoint_every`` is above 0, every that many steps.
    ``compile``: torch.compile each transformer layer (pays off on a GPU for long runs).
    ``quantize``: "4bit" loads the base in 4-bit NF4 (QLoRA, bitsandbytes, cuda only).
    ``base_dtype``: the frozen base weights under bf16: "auto" (bf16 on cuda, fp32 +
    autocast on the CPU), "bf16" (everywhere) or "fp32".
    ``label_smoothing``: cross-entropy label smoothing (single-label classifier).
    ``lora_layers``: adapters on the top this many transformer layers only (0: all); the
    backward pass stops at the lowest adapted layer.
    ``presence_weight``: graded multi-label classifier: weight of the loss term that fits
    each label's presence (any intensity) besides its values (0: values only, and presence
    read as the best value's score, as before this setting existed).
    ``with_tfidf``: also fit TF-IDF + SVM on the training documents and add its margins,
    weighted as validation says (0: off), to the classifier's log-probabilities.
    ``template``: how the classifier is shown a document: ``{text}`` is replaced by its text
    (plain replacement). A short cue after it, e.g. "{text}\nTopic:", gives the last
    token, the one the head reads, the same role in every document.
    ``refit``: train on the training and the validation documents for exactly ``epochs``
    epochs and keep the last weights (no early stopping): more data, once an earlier run
    has shown how many epochs pay. Single-label codebooks only (multi-label thresholds need
    documents the model has not seen); with ``with_tfidf``, give ``tfidf_weight``.
    ``tfidf_weight``: a fixed weight for ``with_tfidf`` instead of the one validation picks.
    ``max_length``: tokens the model reads per document (per window with ``long`` chunk);
    None ("auto") chooses it from the training documents' lengths at most ``length_cap``
    (:mod:`replicoder.models.length`); the saved settings hold the number chosen.
    ``auto_lr`` / ``auto_epochs``: the rate / epochs were left to their defaults, so a small
    training set may raise them (:mod:`replicoder.train.sizing`).
    ``long``: what happens to a longer document: "truncate" (its first tokens), "head-tail"
    (its first quarter and last three quarters) or "chunk" (read whole in overlapping
    windows whose logits are averaged; :mod:`replicoder.models.chunks`).
    """

    base: str = "embedded"
    mode: str = "classifier"
    source: str = "gold"
    train_size: int | None = None
    epochs: int = 3
    seed: int = 0
    lr: float | None = None
    head_lr: float | None = 1e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.06
    batch_size: int = 16
    max_length: int | None = None  # None: auto
    lora_r: int = 16
    lora_alpha: int | None = None
    lora_dropout: float = 0.0  # 0.05 made a CPU step 1.6x slower (drawing dropout masks)
    target_modules: list[str] = field(default_factory=lambda: list(ALL_LINEAR))
    lora_layers: int = 0  # 0: every transformer layer; N: only the top N (a shorter backward)
    eval_every: int = 0
    patience: int = 2
    checkpoint_every: int = 0
    checkpoint_minutes: float = 5.0
    precision: str = "auto"
    device: str | None = None
    compile: bool = False
    quantize: str | None = None
    with_tfidf: bool = False
    base_dtype: str = "auto"
    label_smoothing: float = 0.0
    presence_weight: float = 1.0
    template: str = "{text}"
    refit: bool = False
    tfidf_weight: float | None = None
    length_cap: int = CAP
    long: str = "truncate"
    auto_lr: bool = False  # lr was left to default: a small training set may raise it
    auto_epochs: bool = False  # epochs left to default (the CLI): a small set may raise them

    @property
    def length(self) -> int:
        """The resolved ``max_length`` (train() resolves "auto" before fitting)."""
        if self.max_length is None:
            raise ValueError("max_length is auto: resolve it first (replicoder.train)")
        return self.max_length

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ReplicoderError(f"unknown mode {self.mode!r}; use one of: {', '.join(MODES)}")
        if self.source not in SOURCES:
            raise ReplicoderError(
                f"unknown label source {self.source!r}; use one of: {', '.join(SOURCES)}"
            )
        if self.lr is None:
            self.lr = DEFAULT_LR[self.mode]
            self.auto_lr = True
        if self.lora_alpha is None:
            self.lora_alpha = 2 * self.lora_r
        if self.lr <= 0:
            raise ReplicoderError(f"lr must be positive, not {self.lr}")
        if self.precision not in PRECISIONS:
            raise ReplicoderError(f"precision {self.precision!r}: use {', '.join(PRECISIONS)}")
        for name in ("epochs", "batch_size", "max_length", "lora_r", "length_cap"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ReplicoderError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.lora_layers < 0:
            raise ReplicoderError(f"lora_layers must be 0 (every layer) or more, not "
                                  f"{self.lora_layers}")
        if self.checkpoint_every < 0 or self.checkpoint_minutes <= 0:
            raise ReplicoderError(
                f"checkpoint_every must be 0 or more (now {self.checkpoint_every}) and "
                f"checkpoint_minutes above 0 (now {self.checkpoint_minutes})"
            )
        if self.quantize not in QUANTIZE:
            raise ReplicoderError(
                f"quantize {self.quantize!r}: use {' or '.join(q for q in QUANTIZE if q)}"
            )
        if self.base_dtype not in BASE_DTYPES:
            raise ReplicoderError(f"base_dtype {self.base_dtype!r}: use "
                                  f"{', '.join(BASE_DTYPES)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ReplicoderError(f"label_smoothing must be in [0, 1), not "
                                  f"{self.label_smoothing}")
        if self.label_smoothing and self.mode != "classifier":
            raise ReplicoderError("label_smoothing applies to the classifier head; train with "
                                  "mode 'classifier' or leave it at 0")
        if self.presence_weight < 0:
            raise ReplicoderError(f"presence_weight must be 0 or more, not "
                                  f"{self.presence_weight}")
        if self.with_tfidf and self.mode != "classifier":
            raise ReplicoderError("with_tfidf combines a TF-IDF model with the classifier "
                                  "head's probabilities; train with mode 'classifier'")
        if self.tfidf_weight is not None and (not self.with_tfidf or self.tfidf_weight < 0):
            raise ReplicoderError(f"tfidf_weight {self.tfidf_weight} needs with_tfidf and a "
                                  "weight of 0 or more")
        if self.refit and self.with_tfidf and self.tfidf_weight is None:
            raise ReplicoderError("refit trains on the validation documents, so they cannot "
                                  "choose the TF-IDF weight: give tfidf_weight (e.g. the "
                                  "weight an earlier run chose, in its metrics.json)")
        check_template(self.template)
        if self.template != TEXT and self.mode != "classifier":
            raise ReplicoderError("template shapes the classifier's input; generative mode "
                                  "writes its own instruction: train with mode 'classifier'")
        if self.long not in LONG:
            raise ReplicoderError(f"long {self.long!r}: use one of {', '.join(LONG)}")
        if self.long != "truncate" and self.mode != "classifier":
            raise ReplicoderError(f"long {self.long!r} applies to the classifier (generative "
                                  "mode reads a document's first max_length tokens); train "
                                  "with mode 'classifier' or long 'truncate'")
        if self.train_size is not None and self.train_size < 2:
            raise ReplicoderError(f"train_size must be at least 2, not {self.train_size}")

    def with_lora(self, model: Any, task_type: str) -> Any:
        """``model`` wrapped with fresh LoRA adapters of these settings (peft); the
        trainable weights (adapters, head) in fp32 whatever the base's dtype."""
        import torch
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

        if self.quantize:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        lora = LoraConfig(task_type=task_type, r=self.lora_r,
                          lora_alpha=self.lora_alpha or 2 * self.lora_r,
                          lora_dropout=self.lora_dropout,
                          target_modules=list(self.target_modules),
                          **self._layers(model))
        wrapped = get_peft_model(model, lora)
        for p in wrapped.parameters():
            if p.requires_grad and p.dtype != torch.float32:
                p.data = p.data.float()
        return wrapped

    def _layers(self, model: Any) -> dict[str, Any]:
        """peft's arguments for adapters on the top ``lora_layers`` layers only: the
        backward pass then stops there instead of running through the whole model."""
        if not self.lora_layers:
            return {}
        config = model.config.get_text_config()
        n = int(config.num_hidden_layers)
        if self.lora_layers > n:
            raise ReplicoderError(f"lora_layers {self.lora_layers}: {config.model_type} has "
                                  f"{n} layers; give {n} or fewer (0: all)")
        return {"layers_to_transform": list(range(n - self.lora_layers, n)),
                "layers_pattern": "layers"}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ReplicoderError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**data)

    def save(self, path: Path) -> None:
        atomic.write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ReplicoderError(f"{path}: cannot read training settings: {exc}") from exc
        return cls.from_dict(data)
