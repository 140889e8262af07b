"""Which recipe an explorer belongs to, for `s2lpo sample --explorer MODEL` without `--recipe`.

Recipes in `./recipes/` are looked at first; the shipped ones only when none there names the model.
Recipes that would sample the same store (same store path, target (its tokenizer renders the prompts),
data, rollout settings and seed, e.g. `tiny`
and `tiny_verl`) count as one: sampling with either writes the same responses.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from s2lpo_cli.errors import UserError
from s2lpo_cli.lookup.models import same_model

LOCAL_RECIPES = Path("recipes")


def _explorer_of(path: Path) -> str | None:
    """models.explorer as written in the file; None when unreadable (validation comes later, on the chosen one)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    models = data.get("models") if isinstance(data, dict) else None
    explorer = models.get("explorer") if isinstance(models, dict) else None
    return explorer if isinstance(explorer, str) else None


def _sampling_of(path: Path) -> str:
    """What decides a recipe's explorer store, as written in the file (same text: same store)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    models, optim = data.get("models") or {}, data.get("optim") or {}
    return repr((models.get("explorer_rollouts"), models.get("target"), data.get("data"), data.get("rollout"),
                 optim.get("seed")))


def recipes_naming(explorer: str, folder: Path) -> list[Path]:
    """The recipe files in `folder` whose models.explorer is this model."""
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    return [f for f in files if (named := _explorer_of(f)) is not None and same_model(named, explorer)]


def recipe_for_explorer(explorer: str, shipped_dir: Path, local_dir: Path = LOCAL_RECIPES) -> Path | None:
    """The one recipe naming this explorer (local first, then shipped); None when none does.

    Several in the same place: a UserError listing them, asking for --recipe.
    """
    local = recipes_naming(explorer, local_dir)
    same_folder = local_dir.is_dir() and local_dir.resolve() == shipped_dir.resolve()
    found = local or ([] if same_folder else recipes_naming(explorer, shipped_dir))
    if len(found) > 1 and len({_sampling_of(f) for f in found}) == 1:
        return found[0]
    if len(found) > 1:
        listed = ", ".join(str(f) for f in found)
        example = found[0] if local else found[0].stem
        raise UserError(
            f"{len(found)} recipes name {explorer} as their explorer: {listed}; "
            f"choose one with --recipe, e.g. s2lpo sample --explorer {explorer} --recipe {example}"
        )
    return found[0] if found else None
