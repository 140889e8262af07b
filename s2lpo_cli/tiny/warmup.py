"""Short supervised warm-up: teach a fresh tiny model to answer "<work>. \\boxed{ANSWER}".

Only the response tokens (and the closing <|im_end|>) carry loss; the prompt is rendered with the model's
chat template exactly as sampling renders it, with either instruction and both thinking modes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from s2lpo_cli.prompting import DEFAULT_INSTRUCTION, build_messages, render_prompt
from s2lpo_cli.tiny.task import TINY_INSTRUCTION, Problem

INSTRUCTIONS = (TINY_INSTRUCTION, DEFAULT_INSTRUCTION)


@dataclass(frozen=True)
class WarmupPlan:
    steps: int
    family_weights: dict[str, float] = field(default_factory=dict)  # a family not named here weighs 1.0
    batch_size: int = 128
    lr: float = 1e-2
    thinking_share: float = 0.25  # share of examples in thinking mode (response inside <think>...</think>)


def encode_example(
    tokenizer: Any, problem: Problem, instruction: str, thinking: bool
) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids ending with <|im_end|>) for one supervised example."""
    prompt = render_prompt(tokenizer, build_messages(problem.question, instruction), enable_thinking=thinking)
    prompt_ids = tokenizer(prompt, add_special_tokens=False).input_ids
    response_ids = tokenizer(problem.response(thinking), add_special_tokens=False).input_ids
    return prompt_ids, [*response_ids, tokenizer.eos_token_id]


def _batch(examples: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(p) + len(r) for p, r in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for i, (prompt, response) in enumerate(examples):
        ids = prompt + response
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, len(prompt) : len(ids)] = torch.tensor(response)
        attention[i, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def _lr_factor(step: int, steps: int) -> float:
    """Linear warm-up over the first 5% of steps, then cosine decay to 10%."""
    warm = max(1, steps // 20)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, steps - warm)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def warm_up(
    model: Any,
    tokenizer: Any,
    pools: dict[str, list[Problem]],
    plan: WarmupPlan,
    seed: int,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train `model` in place on problems drawn from `pools` by family weight; returns the loss per step."""
    import torch

    rng = random.Random(seed)
    families = [f for f in pools if plan.family_weights.get(f, 1.0) > 0]
    weights = [plan.family_weights.get(f, 1.0) for f in families]
    cache: dict[tuple[str, str, bool], tuple[list[int], list[int]]] = {}
    optimizer = torch.optim.AdamW(model.parameters(), lr=plan.lr, betas=(0.9, 0.98), weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, plan.steps))
    model.train()
    losses = []
    for step in range(plan.steps):
        examples = []
        for family in rng.choices(families, weights, k=plan.batch_size):
            problem = rng.choice(pools[family])
            instruction = rng.choice(INSTRUCTIONS)
            thinking = rng.random() < plan.thinking_share
            key = (problem.question, instruction, thinking)
            if key not in cache:
                cache[key] = encode_example(tokenizer, problem, instruction, thinking)
            examples.append(cache[key])
        loss = model(**_batch(examples, tokenizer.pad_token_id)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if on_step:
            on_step(step, losses[-1])
    model.eval()
    return losses
