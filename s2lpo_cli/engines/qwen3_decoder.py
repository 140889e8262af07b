"""Decode steps of a Qwen3 model without transformers' per-call machinery: the same arithmetic, less Python.

For a model qwen3_stack supports, the decode steps run on qwen3_stack's layers, continuing from
transformers' prefill cache. The tokens are the same as transformers' decode path and the log-probs
bit-identical, except where transformers drops an all-ones mask (a single row left, its prompt unpadded)
and attends through another kernel: float rounding there (2.4e-7 measured; the test allows 1e-6). The keys and values live in one
preallocated buffer per layer, written in place. Any other model keeps transformers' decode path.
"""

from __future__ import annotations

from typing import Any

import torch

from s2lpo_cli.engines.qwen3_stack import Qwen3Stack


class Qwen3Decoder:
    """Decodes one token per row and step, continuing from transformers' prefill cache.

    `keys`/`values` are (rows, kv_heads, capacity, head_dim) buffers per layer, of which the first
    `length` positions are filled; `bias` is the additive attention mask over them (0 or -inf);
    `positions` holds each row's last position id (prompts are left-padded). The weights are read when
    the decoder is built: build one per generation (training changes them between generations).
    """

    def __init__(self, model: Any, cache: Any, mask: torch.Tensor, positions: torch.Tensor, capacity: int) -> None:
        self.stack = Qwen3Stack(model)
        self.length, self.positions = mask.shape[1], positions[:, -1:]
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
        n = self.length
        self.positions = self.positions + 1

        def append(i: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            self.keys[i][:, :, n : n + 1] = keys
            self.values[i][:, :, n : n + 1] = values
            return self.keys[i][:, :, : n + 1], self.values[i][:, :, : n + 1]

        hidden = self.stack.hidden(tokens[:, None], self.stack.rotary(self.positions), self.bias[..., : n + 1], append)
        self.length = n + 1
        return self.stack.logits(hidden[:, 0])
