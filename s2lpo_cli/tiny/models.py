"""Sizes of the tiny explorer and target: standard Qwen3 configs, the explorer several times smaller.

Both use 32-wide attention heads: vLLM's CPU attention has kernels for head sizes 32, 64, 80, 96, 112, 128,
160, 192, 224, 256 and 512, not 16, so both checkpoints load in vLLM on CPU and GPU.
"""

from __future__ import annotations

from typing import Any

EXPLORER_SIZE = {
    "hidden_size": 64,
    "intermediate_size": 192,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
}
TARGET_SIZE = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
}
MAX_POSITIONS = 512


def qwen3_config(size: dict[str, int], tokenizer: Any) -> Any:
    """A Qwen3ForCausalLM config for `tokenizer` (tied embeddings, float32, eos = <|im_end|>)."""
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        architectures=["Qwen3ForCausalLM"],
        dtype="float32",
        **size,
    )


def new_model(size: dict[str, int], tokenizer: Any, seed: int) -> Any:
    """A randomly initialised model, the same weights for the same seed."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(qwen3_config(size, tokenizer), dtype=torch.float32)


def count_params(model: Any) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())
