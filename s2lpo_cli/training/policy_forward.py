"""Per-token log-probs of responses under a causal LM, each distinct prompt computed once.

The G responses of a group share their prompt, and a micro-batch holds a few groups. Instead of running
every prompt + response sequence (the prompt G times), the micro-batch's distinct prompts are run once,
left-padded, keeping their KV cache in the autograd graph; the cache is gathered for each response and
the responses are run on top of it. Gradients flow back through the shared prompt states, so the loss
and its gradient are those of the full sequences up to float rounding (tested against the full pass);
on the tiny task about half of the tokens are prompt tokens, computed once per group instead of G times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from s2lpo_cli.training.assembly import Response
from s2lpo_cli.training.losses import entropy_from_logits, token_logprobs


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


def forward(
    model: Any, batch: Batch, *, entropy: str | None = None, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs of the response tokens under `model` at the sampling temperature (the policy that
    generated them, as verl's actor computes them), and their entropy when asked: `entropy="grad"` (part of
    the loss) or `"metric"` (detached, from the same logits)."""
    logits = response_logits(model, batch)
    if temperature != 1.0:
        logits = logits / temperature
    logp = token_logprobs(logits, batch.targets)
    if entropy is None:
        return logp, None
    if entropy == "metric":
        with torch.no_grad():
            return logp, entropy_from_logits(logits.detach())
    return logp, entropy_from_logits(logits)
