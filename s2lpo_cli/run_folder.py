"""A training run folder, embedded or verl: what each file is called, and how it is written.

    recipe.yaml      the resolved recipe (a rerun of the same recipe resumes, another one is refused)
    command.txt      the command that made it (a resumed run appends `# resumed: ...`)
    command.sh       verl only: the verl command, one override per line (rerun it to resume)
    env.json         python, platform, package versions, git hash, engine, device
    metrics.jsonl    one JSON object per physical optimizer step
    val.jsonl        validation during training: one JSON object per step and benchmark (evaluation/validation.py)
    validation/step_NNNN/<bench>/   embedded: that validation's `s2lpo eval` files (config, raw responses, grades)
    checkpoints/step_NNNN/, final/   Hugging Face models (verl's are links into verl/)

Every file but the metrics log is written atomically: a kill leaves the old file or the new one.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.provenance import git_hash, package_versions
from s2lpo_cli.recipe import Recipe, to_yaml

RECIPE = "recipe.yaml"
COMMAND = "command.txt"
SCRIPT = "command.sh"
ENV = "env.json"
METRICS = "metrics.jsonl"
VAL = "val.jsonl"
VALIDATION = "validation"
CHECKPOINTS = "checkpoints"
CHECKPOINT_PREFIX = "step_"
FINAL = "final"
ENV_PACKAGES = ("s2lpo", "torch", "transformers", "tokenizers", "safetensors", "math-verify", "verl", "ray", "vllm",
                "trl")


@dataclass(frozen=True)
class RunFolder:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def recipe_path(self) -> Path:
        return self.root / RECIPE

    @property
    def command_path(self) -> Path:
        return self.root / COMMAND

    @property
    def script_path(self) -> Path:
        return self.root / SCRIPT

    @property
    def env_path(self) -> Path:
        return self.root / ENV

    @property
    def metrics_path(self) -> Path:
        return self.root / METRICS

    @property
    def val_path(self) -> Path:
        return self.root / VAL

    def validation(self, step: int) -> Path:
        """The `s2lpo eval` files of the validation after logical step `step`."""
        return self.root / VALIDATION / f"{CHECKPOINT_PREFIX}{step:04d}"

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    @property
    def final(self) -> Path:
        return self.root / FINAL

    def checkpoint(self, step: int) -> Path:
        """The checkpoint taken after logical step `step`."""
        return self.checkpoints / f"{CHECKPOINT_PREFIX}{step:04d}"

    def finished(self) -> bool:
        """A training run that wrote its final model (verl's final/ is a link)."""
        return self.recipe_path.is_file() and self.final.is_dir()

    def write_recipe(self, recipe: Recipe) -> None:
        write_text_atomic(self.recipe_path, to_yaml(recipe))

    def write_command(self, command: str) -> None:
        write_text_atomic(self.command_path, command + "\n")

    def note_resumed(self, command: str) -> None:
        with self.command_path.open("a", encoding="utf-8") as fh:
            fh.write(f"# resumed: {command}\n")

    def write_script(self, text: str) -> None:
        write_text_atomic(self.script_path, text)
        self.script_path.chmod(0o755)

    def write_env(self, env: dict[str, Any]) -> None:
        write_text_atomic(self.env_path, json.dumps(env, indent=1) + "\n")


def environment(engine: str, device: str, **extra: Any) -> dict[str, Any]:
    """What env.json records for every engine: versions, platform, git hash, engine, device, then `extra`."""
    versions = package_versions(ENV_PACKAGES)
    return {"python": versions.pop("python"), "platform": platform.platform(), "packages": versions,
            "git": git_hash(), "engine": engine, "device": device, **extra}
