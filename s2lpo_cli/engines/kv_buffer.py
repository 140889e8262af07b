"""A KV cache that is written in place during decoding instead of concatenated at every step.

transformers' `DynamicLayer` appends each step's keys and values with `torch.cat`: a full copy of the
cache per layer per step, about half of a tiny model's decode time on CPU once the attention no longer
copies it (see grouped_attention.py). After the prefill, each plain dynamic layer is swapped for one
whose keys and values live in a buffer sized for the whole generation; the layer exposes the filled
part as a view, so attention sees the same values as before. Caches of any other kind (sliding windows,
static caches) are left as they are. Imported lazily: it imports transformers.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicLayer


class BufferedLayer(DynamicLayer):
    """A dynamic cache layer backed by a buffer of `capacity` positions (grown by doubling if exceeded)."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, capacity: int) -> None:
        super().__init__()
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
        n = keys.shape[-2]
        self._keys = _room(keys, max(capacity, n))
        self._values = _room(values, max(capacity, n))
        self._expose(n)

    def _expose(self, n: int) -> None:
        self.keys, self.values = self._keys[:, :, :n], self._values[:, :, :n]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
        n, q = self.keys.shape[-2], key_states.shape[-2]
        if n + q > self._keys.shape[-2]:
            self._keys = _room(self.keys, 2 * (n + q))
            self._values = _room(self.values, 2 * (n + q))
        self._keys[:, :, n : n + q] = key_states
        self._values[:, :, n : n + q] = value_states
        self._expose(n + q)
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        n = self.keys.shape[-2]
        self._keys, self._values = self._keys[indices], self._values[indices]
        self._expose(n)

    def batch_repeat_interleave(self, repeats: int) -> None:
        n = self.keys.shape[-2]
        self._keys = self._keys.repeat_interleave(repeats, dim=0)
        self._values = self._values.repeat_interleave(repeats, dim=0)
        self._expose(n)

    def crop(self, max_length: int) -> None:
        n = self.keys.shape[-2]
        self._expose(min(n, max_length if max_length >= 0 else n + max_length))


def _room(states: torch.Tensor, capacity: int) -> torch.Tensor:
    """A (B, H, capacity, D) buffer holding `states` in its first positions."""
    b, h, n, d = states.shape
    buffer = states.new_empty((b, h, capacity, d))
    buffer[:, :, :n] = states
    return buffer


def preallocate(cache: Any, capacity: int) -> Any:
    """Give every layer of a plain dynamic `cache` room for `capacity` positions; returns the cache."""
    layers = getattr(cache, "layers", None)
    if not layers or any(type(layer) is not DynamicLayer or not layer.is_initialized for layer in layers):
        return cache
    cache.layers = [BufferedLayer(layer.keys, layer.values, capacity) for layer in layers]
    return cache
