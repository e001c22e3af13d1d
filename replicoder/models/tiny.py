"""A tiny randomly initialised model of the embedded (SmolLM2 / Llama) architecture.

Same tokenizer, chat template and model class as the embedded model, about 3.3M
parameters: for fast plumbing tests (train, resume, classify) and GPU checks. It has
learned nothing; never use it for claims about quality.
"""

from __future__ import annotations

from pathlib import Path

from replicoder.models.base import EMBEDDED, load_tokenizer, resolve

__all__ = ["build_tiny"]


def build_tiny(folder: Path | str, *, seed: int = 0, hidden_size: int = 64,
               layers: int = 2) -> Path:
    """Write a tiny Llama model (config, safetensors, tokenizer) into ``folder``; return it.

    Deterministic for a given ``seed``; an existing model in ``folder`` is kept.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    if (folder / "config.json").is_file() and any(folder.glob("*.safetensors")):
        return folder
    base = resolve(EMBEDDED)
    tok = load_tokenizer(base)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 8 // 3,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden_size // 4,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder
