"""Checks of the embedded trainer (engine.kind embedded) before it loads a model."""

from __future__ import annotations

from typing import Any

from s2lpo_cli.preflight.findings import Finding
from s2lpo_cli.preflight.training_data import TrainingData, check_training_data
from s2lpo_cli.preflight.validation import check_validation
from s2lpo_cli.recipe import Recipe

LOGGER_EXTRAS = {"tensorboard": "tensorboard", "wandb": "wandb"}  # logger -> the package it needs (= its extra)


def check_loggers(recipe: Recipe) -> list[Finding]:
    """Each logger beyond console and jsonl needs its package: a missing one is named with its extra."""
    import importlib.util

    return [Finding("logger.missing_extra", "output.logger",
                    f"{name} needs the '{package}' package, which is not installed: pip install 's2lpo[{package}]' "
                    f"(or remove {name} from output.logger)")
            for name, package in LOGGER_EXTRAS.items()
            if name in recipe.output.logger and importlib.util.find_spec(package) is None]


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
