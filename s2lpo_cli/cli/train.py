"""`s2lpo train`: run a recipe with the embedded trainer or verl."""

from __future__ import annotations

from typing import Annotated

import typer

from s2lpo_cli.cli.console import err, out
from s2lpo_cli.cli.options import RecipeArg, SetOpt
from s2lpo_cli.cli.schedule_view import schedule_table
from s2lpo_cli.recipe import load_recipe, to_yaml

EPILOG = (
    "Examples: s2lpo train recipes/tiny.yaml  |  s2lpo train tiny --baseline  |  "
    "s2lpo train recipes/4b_8b.yaml --dry-run  |  s2lpo train 1.7b_8b --set optim.lr=2e-6"
)


def train(
    recipe: RecipeArg,
    set_: SetOpt = None,
    baseline: Annotated[bool, typer.Option("--baseline", help="Plain GRPO from the same recipe: no explorer, run folder <run_dir>_grpo.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate, print the resolved recipe and schedule (and the verl command); run and write nothing.")] = False,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="verl: submit as a Ray job to this cluster (e.g. http://head:8265).")] = None,
) -> None:
    """Train the target with S2L-PO (or plain GRPO with --baseline)."""
    resolved = load_recipe(recipe, set_)
    if baseline:
        resolved = resolved.as_baseline()
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
