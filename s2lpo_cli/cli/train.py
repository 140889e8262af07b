"""`s2lpo train`: run a recipe with the embedded trainer or verl."""

from __future__ import annotations

from typing import Annotated

import typer

from s2lpo_cli.cli.options import RecipeArg, SetOpt
from s2lpo_cli.cli.schedule_view import schedule_table
from s2lpo_cli.console import err, out
from s2lpo_cli.recipe import Recipe, load_recipe, to_yaml

EPILOG = (
    "Examples: s2lpo train recipes/1.7b_8b.yaml  (from any folder: a missing recipes/NAME.yaml means the shipped NAME)  |  "
    "s2lpo train recipes/tiny.yaml  |  s2lpo train tiny --baseline  |  "
    "s2lpo train recipes/4b_8b.yaml --dry-run  |  s2lpo train 1.7b_8b --set optim.lr=2e-6"
)


def train(
    recipe: RecipeArg,
    set_: SetOpt = None,
    baseline: Annotated[bool, typer.Option("--baseline", help="Plain GRPO from the same recipe: no explorer, run folder <run_dir>_grpo.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate, print the resolved recipe and schedule (and the verl command); run and write nothing.")] = False,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="verl: submit as a Ray job to this cluster (e.g. http://head:8265).")] = None,
) -> None:
    """Train the target with S2L-PO (or plain GRPO with --baseline).

    Bare Qwen3 names in models.explorer and models.target (Qwen3-8B) mean the hub ids (Qwen/Qwen3-8B).
    """
    resolved = _with_models_resolved(load_recipe(recipe, set_))
    if baseline:
        resolved = resolved.as_baseline()
    _warn_about_validation(resolved)
    if dry_run:
        err.print(f"[bold]Resolved recipe[/] ({recipe})")
        out.print(to_yaml(resolved), highlight=False)
        out.print(schedule_table(resolved))
        if resolved.engine.kind == "verl":
            from s2lpo_cli.verl_ext.launch import dry_run as verl_dry_run

            verl_dry_run(resolved, ray_address=ray_address)
        return
    if resolved.engine.kind == "verl":
        from s2lpo_cli.verl_ext.launch import launch

        launch(resolved, ray_address=ray_address)
    else:
        from s2lpo_cli.training.run import run_training

        out.print(str(run_training(resolved)), highlight=False)  # the run folder, for scripts


def _warn_about_validation(recipe: Recipe) -> None:
    from s2lpo_cli.preflight.validation import validation_warnings

    for warning in validation_warnings(recipe):
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)


def _with_models_resolved(recipe: Recipe) -> Recipe:
    """The recipe with bare Qwen3 names in models.explorer/target spelled as the model they mean."""
    from s2lpo_cli.lookup.models import resolve_model

    changed = {}
    for field in ("explorer", "target"):
        given = getattr(recipe.models, field)
        choice = resolve_model(given) if given else None
        if choice and choice.note:
            err.print(f"models.{field} {choice.note}", highlight=False)
            changed[field] = choice.name
    if not changed:
        return recipe
    return recipe.model_copy(update={"models": recipe.models.model_copy(update=changed)})
