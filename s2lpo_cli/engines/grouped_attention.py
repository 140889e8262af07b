"""SDPA for grouped-query attention that does not copy the keys and values for every query head.

With a padding mask, transformers' `sdpa` repeats each key/value head for the query heads that share it
(`repeat_kv`, its workaround for CUDA kernels): a full copy of the KV cache at every decode step, about
half of a tiny model's decode time on CPU. torch's own `enable_gqa=True` takes the mask on CPU and gives
bit-identical outputs (tested), so this is transformers' `sdpa` with that flag set. With autograd on, the
call goes to transformers' `sdpa` unchanged: the flag's backward sums the shared heads' gradients in
another order (differences of 1e-6), and training keeps bit-identical results instead (a training
forward is not dominated by that copy).
"""

from __future__ import annotations

from typing import Any

NAME = "s2lpo_grouped_sdpa"


def grouped_sdpa(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[Any, None]:
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    grouped = getattr(module, "num_key_value_groups", 1) > 1
    if attention_mask is None or not grouped or torch.is_grad_enabled() or kwargs.get("output_attentions"):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs)
    out = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, enable_gqa=True
    )
    return out.transpose(1, 2).contiguous(), None


def use_grouped_attention(model: Any) -> None:
    """Switch a transformers model that runs `sdpa` on CPU to `grouped_sdpa`; leave any other as it is."""
    config = model.config
    if getattr(config, "_attn_implementation", None) != "sdpa" or next(model.parameters()).device.type != "cpu":
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, grouped_sdpa)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    model.set_attn_implementation(NAME)
