"""A Qwen3 causal LM's layers run on its own weights without transformers' per-call machinery.

A tiny model spends much of its time in Python around its tensor ops: module calls, building the 4D mask,
the cache object. For a plain Qwen3 model on CPU in float32 (full attention, default RoPE) this module
does the same arithmetic with fewer, larger ops: q/k/v and gate/up each one matrix multiply on the
concatenated weights (bit-identical on CPU), one RMS norm and one rotary for the query and key heads
together, the rotation as a roll against a sign-folded sine (exact: only signs move). Decoding
(qwen3_decoder.py) and the training forward (training/policy_forward.py) share it; each supplies the
keys and values a layer attends to. Under autograd the concatenated weights are built from the
parameters in the graph, so gradients reach the model's own parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

# (layer index, new keys, new values) -> the keys and values that layer attends to
KeysValues = Callable[[int, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def supports(model: Any) -> bool:
    """A Qwen3 causal LM in float32 on CPU with full attention, default RoPE and no attention bias."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) != "qwen3":
        return False
    rope = getattr(config, "rope_parameters", None) or {}
    parameter = next(model.parameters())
    return (
        rope.get("rope_type", "default") == "default"
        and all(kind == "full_attention" for kind in getattr(config, "layer_types", ["full_attention"]))
        and not getattr(config, "attention_bias", False)
        and parameter.device.type == "cpu"
        and parameter.dtype == torch.float32
    )


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Qwen3RMSNorm, operation for operation (float32 in, float32 out)."""
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


@dataclass(frozen=True)
class _LayerWeights:
    """One decoder layer's weights, the projections that read the same input concatenated: one matrix
    multiply instead of three (q, k, v) or two (gate, up), bit-identical on CPU."""

    input_norm: torch.Tensor
    qkv: torch.Tensor
    qk_norm: torch.Tensor  # (heads + kv_heads, head_dim): q_norm's weight for query heads, k_norm's for key heads
    out: torch.Tensor
    post_norm: torch.Tensor
    gate_up: torch.Tensor
    down: torch.Tensor

    @classmethod
    def of(cls, layer: Any) -> _LayerWeights:
        attn, mlp = layer.self_attn, layer.mlp
        heads = attn.q_proj.weight.shape[0] // attn.head_dim
        kv_heads = attn.k_proj.weight.shape[0] // attn.head_dim
        return cls(
            input_norm=layer.input_layernorm.weight,
            qkv=torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]),
            qk_norm=torch.stack([attn.q_norm.weight] * heads + [attn.k_norm.weight] * kv_heads),
            out=attn.o_proj.weight,
            post_norm=layer.post_attention_layernorm.weight,
            gate_up=torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]),
            down=mlp.down_proj.weight,
        )


class Qwen3Stack:
    """The model's weights as the layers read them, taken when built: build one per forward pass under
    autograd, one per generation otherwise (training changes the weights between generations)."""

    def __init__(self, model: Any) -> None:
        config, inner = model.config, model.model
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.eps, self.scaling = config.rms_norm_eps, self.head_dim**-0.5
        self.inv_freq = inner.rotary_emb.inv_freq.float()
        self.rope_scale = inner.rotary_emb.attention_scaling
        self.embed, self.final_norm, self.lm_head = inner.embed_tokens.weight, inner.norm.weight, model.lm_head.weight
        self.padding_idx = inner.embed_tokens.padding_idx  # its row gets no gradient from the lookup
        self.layers = [_LayerWeights.of(layer) for layer in inner.layers]

    def rotary(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and the sign-folded sin for position ids (rows, T), shaped (rows, 1, T, head_dim)."""
        freqs = positions[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos() * self.rope_scale, emb.sin() * self.rope_scale
        half = self.head_dim // 2
        sin = torch.cat((-sin[..., :half], sin[..., half:]), dim=-1)
        return cos[:, None], sin[:, None]

    def hidden(self, tokens: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor], bias: torch.Tensor,
               keys_values: KeysValues) -> torch.Tensor:
        """The last layer's hidden states (rows, T, hidden) for token ids (rows, T); `bias` is the additive
        attention mask (rows, 1, T, keys)."""
        rows, length = tokens.shape
        heads, kv_heads, eps = self.heads, self.kv_heads, self.eps
        cos, sin = rotary
        hidden = F.embedding(tokens, self.embed, self.padding_idx)
        for i, w in enumerate(self.layers):
            qkv = F.linear(rms_norm(hidden, w.input_norm, eps), w.qkv).view(rows, length, -1, self.head_dim)
            qk = rms_norm(qkv[:, :, : heads + kv_heads], w.qk_norm, eps).transpose(1, 2)
            qk = qk * cos + qk.roll(self.head_dim // 2, dims=-1) * sin
            keys, values = keys_values(i, qk[:, heads:], qkv[:, :, heads + kv_heads :].transpose(1, 2))
            out = F.scaled_dot_product_attention(
                qk[:, :heads], keys, values, attn_mask=bias, scale=self.scaling, enable_gqa=heads != kv_heads
            )
            hidden = hidden + F.linear(out.transpose(1, 2).reshape(rows, length, -1), w.out)
            gate, up = F.linear(rms_norm(hidden, w.post_norm, eps), w.gate_up).chunk(2, dim=-1)
            hidden = hidden + F.linear(F.silu(gate) * up, w.down)
        return hidden

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(rms_norm(hidden, self.final_norm, self.eps), self.lm_head)
