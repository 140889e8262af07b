"""Registries kept as one YAML spec per file (eval_data/, train_data/): read and validate a folder of them."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from s2lpo_cli.errors import UserError

Spec = TypeVar("Spec", bound=BaseModel)


def load_specs(folder: Path, model: type[Spec]) -> dict[str, Spec]:
    """Every `*.yaml` spec in `folder` by its `name`; a malformed one is a UserError naming file and fields."""
    specs = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            spec = model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise UserError(f"{path}: {problems}") from None
        specs[spec.name] = spec
    return specs
