"""Checks of the embedded trainer (engine.kind embedded) before it loads a model."""

from __future__ import annotations

from typing import Any

from s2lpo_cli.preflight.findings import Finding
from s2lpo_cli.preflight.training_data import TrainingData, check_training_data
from s2lpo_cli.preflight.validation import check_validation
from s2lpo_cli.recipe import Recipe

EMBEDDED_LOGGERS = ("console", "jsonl")


def check_loggers(recipe: Recipe) -> list[Finding]:
    unsupported = [name for name in recipe.output.logger if name not in EMBEDDED_LOGGERS]
    if not unsupported:
        return []
    return [Finding("logger.unsupported", "output.logger",
                    f"{', '.join(unsupported)} is only available with engine.kind verl; the embedded trainer writes "
                    "metrics.jsonl and the console (use console, jsonl)")]


def check_device(recipe: Recipe) -> list[Finding]:
    if recipe.engine.device != "cuda":
        return []
    import torch

    if torch.cuda.is_available():
        return []
    return [Finding("gpus.none_visible", "engine.device", "cuda was asked for but no GPU is visible; use auto or cpu")]


def check_embedded(recipe: Recipe) -> tuple[Any, TrainingData, list[Finding]]:
    """(the target's tokenizer, the checked training data, every finding): all strict, nothing is elsewhere."""
    from s2lpo_cli.engines.loading import load_tokenizer

    tokenizer = load_tokenizer(recipe.models.target)
    data, findings = check_training_data(recipe, tokenizer, reuse=True, strict=True)
    return tokenizer, data, findings + check_loggers(recipe) + check_device(recipe) + check_validation(recipe, strict=True)
