"""Decode steps of a Qwen3 model without transformers' per-call machinery: the same arithmetic, less Python.

A tiny model spends most of a decode step in Python around its tensor ops: module calls, building the 4D
mask, the cache object. For a plain Qwen3 causal LM on CPU (full attention, default RoPE) this module runs
the decode steps itself on the model's own weights, with the same tensor operations in the same order as
transformers' Qwen3 code and the grouped SDPA of grouped_attention.py, so the tokens are the same and the
log-probs bit-identical (tested), except where transformers drops an all-ones mask (a single row left, its
prompt unpadded) and attends through its own repeat_kv path: float rounding there (2.4e-7 measured). The
keys and values live in one preallocated buffer per layer, written in place. The prompt prefill stays
with transformers. Any other model keeps transformers' decode path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


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


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Qwen3RMSNorm, operation for operation (float32 in, float32 out)."""
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


@dataclass(frozen=True)
class _LayerWeights:
    """One decoder layer's weights, the projections that read the same input concatenated: one matrix
    multiply instead of three (q, k, v) or two (gate, up), bit-identical on CPU (tested through the
    decoder)."""

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


class Qwen3Decoder:
    """Decodes one token per row and step, continuing from transformers' prefill cache.

    `keys`/`values` are (rows, kv_heads, capacity, head_dim) buffers per layer, of which the first
    `length` positions are filled; `bias` is the additive attention mask over them (0 or -inf);
    `positions` holds each row's last position id (prompts are left-padded). The weights are read when
    the decoder is built: build one per generation (training changes them between generations).
    """

    def __init__(self, model: Any, cache: Any, mask: torch.Tensor, positions: torch.Tensor, capacity: int) -> None:
        config = model.config
        inner = model.model
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.eps, self.scaling = config.rms_norm_eps, self.head_dim**-0.5
        self.inv_freq = inner.rotary_emb.inv_freq.float()
        self.scale_rope = inner.rotary_emb.attention_scaling
        self.embed, self.final_norm, self.lm_head = inner.embed_tokens.weight, inner.norm.weight, model.lm_head.weight
        self.layers = [_LayerWeights.of(layer) for layer in inner.layers]
        self.length, self.positions = mask.shape[1], positions[:, 0]
        capacity = max(capacity, self.length)
        self.keys, self.values = [], []
        for layer in cache.layers:
            rows, heads, length, dim = layer.keys.shape
            keys = layer.keys.new_empty((rows, heads, capacity, dim))
            values = layer.values.new_empty((rows, heads, capacity, dim))
            keys[:, :, :length], values[:, :, :length] = layer.keys, layer.values
            self.keys.append(keys)
            self.values.append(values)
        self.bias = torch.zeros((mask.shape[0], 1, 1, capacity), dtype=torch.float32)
        self.bias[:, 0, 0, : self.length].masked_fill_(mask == 0, float("-inf"))

    def select(self, rows: torch.Tensor) -> None:
        """Keep only `rows` (indices into the current batch)."""
        self.keys = [k[rows] for k in self.keys]
        self.values = [v[rows] for v in self.values]
        self.bias, self.positions = self.bias[rows], self.positions[rows]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row; returns the next-token logits (rows, vocab)."""
        rows, n, heads, kv_heads = tokens.shape[0], self.length, self.heads, self.kv_heads
        self.positions = self.positions + 1
        freqs = self.positions[:, None].float() * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = (emb.cos() * self.scale_rope)[:, None, None, :]
        sin = (emb.sin() * self.scale_rope)[:, None, None, :]
        bias = self.bias[..., : n + 1]
        hidden = self.embed[tokens][:, None, :]  # (rows, 1, hidden)
        for i, w in enumerate(self.layers):
            x = _rms_norm(hidden, w.input_norm, self.eps)
            qkv = F.linear(x, w.qkv).view(rows, 1, -1, self.head_dim)
            qk = _rms_norm(qkv[:, :, : heads + kv_heads], w.qk_norm, self.eps).transpose(1, 2)
            qk = qk * cos + _rotate_half(qk) * sin
            self.keys[i][:, :, n : n + 1] = qk[:, heads:]
            self.values[i][:, :, n : n + 1] = qkv[:, :, heads + kv_heads :].transpose(1, 2)
            out = F.scaled_dot_product_attention(
                qk[:, :heads], self.keys[i][:, :, : n + 1], self.values[i][:, :, : n + 1], attn_mask=bias,
                scale=self.scaling, enable_gqa=heads != kv_heads,
            )
            hidden = hidden + F.linear(out.transpose(1, 2).reshape(rows, 1, -1), w.out)
            gate, up = F.linear(_rms_norm(hidden, w.post_norm, self.eps), w.gate_up).chunk(2, dim=-1)
            hidden = hidden + F.linear(F.silu(gate) * up, w.down)
        self.length = n + 1
        return F.linear(_rms_norm(hidden[:, 0], self.final_norm, self.eps), self.lm_head)
