"""Per-token log-probs of responses under a causal LM, each distinct prompt computed once.

The G responses of a group share their prompt, and a micro-batch holds a few groups. Instead of running
every prompt + response sequence (the prompt G times), the micro-batch's distinct prompts are run once,
left-padded, keeping their KV cache in the autograd graph; the cache is gathered for each response and
the responses are run on top of it. Gradients flow back through the shared prompt states, so the loss
and its gradient are those of the full sequences up to float rounding (tested against the full pass);
on the tiny task about half of the tokens are prompt tokens, computed once per group instead of G times.

A model that engines/qwen3_stack.py supports (a plain Qwen3 in float32 on CPU) runs both passes on that
module's layers: the same arithmetic with fewer ops (log-probs and gradients agree with transformers' forward
to float rounding, tested); any other model runs through transformers' forward and cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from s2lpo_cli.engines import qwen3_stack
from s2lpo_cli.training.assembly import Response
from s2lpo_cli.training.losses import entropy_from_log_probs, target_logprobs


@dataclass
class Batch:
    """A micro-batch of responses with their distinct prompts. Response tensors are (B, T)."""

    prompt_ids: torch.Tensor  # (P, W) distinct prompts, left-padded
    prompt_mask: torch.Tensor  # (P, W)
    owner: torch.Tensor  # (B,) the prompt row of each response
    targets: torch.Tensor  # (B, T) response tokens, right-padded
    mask: torch.Tensor  # (B, T) 1.0 on real response tokens


def pack(responses: list[Response], pad_id: int, device: torch.device) -> Batch:
    index: dict[tuple[int, ...], int] = {}
    owner = [index.setdefault(tuple(r.prompt_ids), len(index)) for r in responses]
    prompts = list(index)
    width = max(len(p) for p in prompts)
    if width == 0:
        raise ValueError("empty prompt")
    t_max = max(len(r.token_ids) for r in responses)
    prompt_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    prompt_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        prompt_ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
        prompt_mask[i, width - len(p):] = 1
    targets = torch.full((len(responses), t_max), pad_id, dtype=torch.long)
    mask = torch.zeros((len(responses), t_max))
    for i, r in enumerate(responses):
        targets[i, : len(r.token_ids)] = torch.tensor(r.token_ids, dtype=torch.long)
        mask[i, : len(r.token_ids)] = 1.0
    tensors = (prompt_ids, prompt_mask, torch.tensor(owner, dtype=torch.long), targets, mask)
    return Batch(*(t.to(device) for t in tensors))


def response_logits(model: Any, batch: Batch) -> torch.Tensor:
    """(B, T, V): the logits that predict each response token."""
    if qwen3_stack.supports(model):
        return _stack_response_logits(qwen3_stack.Qwen3Stack(model), batch)
    positions = (batch.prompt_mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=batch.prompt_ids, attention_mask=batch.prompt_mask, position_ids=positions,
                use_cache=True, logits_to_keep=1)
    first = out.logits[batch.owner, -1:]  # predicts response token 0
    t_max = batch.targets.shape[1]
    if t_max <= 1:
        return first[:, :t_max]
    cache = out.past_key_values
    cache.batch_select_indices(batch.owner)
    lengths = batch.prompt_mask.sum(-1)[batch.owner]
    attention = torch.cat([batch.prompt_mask[batch.owner], batch.mask[:, :-1].long()], dim=1)
    rest = model(input_ids=batch.targets[:, :-1], attention_mask=attention,
                 position_ids=lengths[:, None] + torch.arange(t_max - 1, device=lengths.device),
                 past_key_values=cache, use_cache=True).logits
    return torch.cat([first, rest], dim=1)


def _attention_bias(allowed: torch.Tensor) -> torch.Tensor:
    """(rows, 1, queries, keys) additive mask from a boolean one. A fully masked row (a left-padded prompt
    position) attends evenly and stays finite; no real position reads it."""
    bias = torch.zeros(allowed.shape, device=allowed.device)
    return bias.masked_fill_(~allowed, torch.finfo(bias.dtype).min)[:, None]


def _stack_response_logits(stack: qwen3_stack.Qwen3Stack, batch: Batch) -> torch.Tensor:
    prompt_mask = batch.prompt_mask.bool()
    width, device = prompt_mask.shape[1], prompt_mask.device
    prompt_kv: list[tuple[torch.Tensor, torch.Tensor]] = []

    def keep(i: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        prompt_kv.append((keys, values))
        return keys, values

    causal = torch.ones(width, width, dtype=torch.bool, device=device).tril()
    positions = (batch.prompt_mask.cumsum(-1) - 1).clamp(min=0)
    hidden = stack.hidden(batch.prompt_ids, stack.rotary(positions), _attention_bias(causal & prompt_mask[:, None]), keep)
    first = stack.logits(hidden[batch.owner, -1:])  # predicts response token 0
    t = batch.targets.shape[1] - 1
    if t <= 0:
        return first[:, : t + 1]

    def extend(i: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        prompt_keys, prompt_values = prompt_kv[i]
        return torch.cat([prompt_keys[batch.owner], keys], 2), torch.cat([prompt_values[batch.owner], values], 2)

    causal = torch.ones(t, t, dtype=torch.bool, device=device).tril() & batch.mask[:, None, :-1].bool()
    allowed = torch.cat([prompt_mask[batch.owner][:, None, :].expand(-1, t, -1), causal], dim=-1)
    positions = batch.prompt_mask.sum(-1)[batch.owner][:, None] + torch.arange(t, device=device)
    hidden = stack.hidden(batch.targets[:, :-1], stack.rotary(positions), _attention_bias(allowed), extend)
    return torch.cat([first, stack.logits(hidden)], dim=1)


def forward(
    model: Any, batch: Batch, *, entropy: str | None = None, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs of the response tokens under `model` at the sampling temperature (the policy that
    generated them, as verl's actor computes them), and their entropy when asked: `entropy="grad"` (part of
    the loss) or `"metric"` (detached, from the same logits)."""
    logits = response_logits(model, batch)
    if temperature != 1.0:
        logits = logits / temperature
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # one pass serves the log-probs and the entropy
    logp = target_logprobs(log_probs, batch.targets)
    if entropy is None:
        return logp, None
    if entropy == "metric":
        with torch.no_grad():
            return logp, entropy_from_log_probs(log_probs.detach())
    return logp, entropy_from_log_probs(log_probs)
