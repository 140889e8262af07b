"""Prompt checks: every training row rendered with the target's chat template, its length, the prompt count."""

from __future__ import annotations

from typing import Any

from s2lpo_cli.data.rows import Row
from s2lpo_cli.preflight.findings import Finding
from s2lpo_cli.prompting import build_messages, encode_prompt
from s2lpo_cli.recipe import PromptConfig, Recipe

TOO_LONG = "prompt.too_long"
TOO_FEW_PROMPTS = "data.too_few_prompts"


def encode_rows(tokenizer: Any, rows: list[Row], prompt: PromptConfig) -> list[list[int]]:
    """Each row's prompt as token ids: the question in `prompt`'s template, rendered by the tokenizer's chat template."""
    return [
        encode_prompt(tokenizer, build_messages(row.question, prompt.instruction, prompt.system), prompt.enable_thinking)
        for row in rows
    ]


def too_long(prompt_ids: list[list[int]], max_prompt_tokens: int) -> list[int]:
    """Positions of the prompts longer than `max_prompt_tokens`."""
    return [i for i, ids in enumerate(prompt_ids) if len(ids) > max_prompt_tokens]


def check_lengths(
    rows: list[Row], prompt_ids: list[list[int]], max_prompt_tokens: int, source: str, remedy: str = ""
) -> list[Finding]:
    """One finding naming the longest prompt when some exceed `max_prompt_tokens`; `remedy` adds a way out."""
    long = too_long(prompt_ids, max_prompt_tokens)
    if not long:
        return []
    worst = max(long, key=lambda i: len(prompt_ids[i]))
    return [Finding(
        TOO_LONG, "data.max_prompt_tokens",
        f"{len(long)} prompt(s) of {source} are longer than {max_prompt_tokens} tokens (longest: row "
        f"{rows[worst].id}, {len(prompt_ids[worst])} tokens); raise it (--set data.max_prompt_tokens=N)"
        f"{remedy or ' or filter the training set'}",
    )]


def check_prompt_count(n_prompts: int, recipe: Recipe) -> list[Finding]:
    """A step takes `optim.prompts_per_step` distinct prompts: the training set must hold that many."""
    per_step = recipe.optim.prompts_per_step
    if n_prompts >= per_step:
        return []
    return [Finding(
        TOO_FEW_PROMPTS, "optim.prompts_per_step",
        f"{per_step} prompts per step, but the training set {recipe.data.train!r} holds {n_prompts}; "
        "lower prompts_per_step",
    )]
