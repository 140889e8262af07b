"""`s2lpo recipe`: list, show, validate and describe recipes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.syntax import Syntax
from rich.table import Table

from s2lpo_cli.cli.options import RecipeArg, SetOpt
from s2lpo_cli.cli.schedule_view import schedule_table
from s2lpo_cli.console import err, out
from s2lpo_cli.errors import UserError
from s2lpo_cli.recipe import RECIPES_DIR, Recipe, load_recipe, shipped_recipes, to_yaml

app = typer.Typer(
    help="List, show, validate recipes and print their JSON schema.",
    epilog="Example: s2lpo recipe validate recipes/*.yaml",
    no_args_is_help=True,
)


@app.command("list", epilog="Example: s2lpo recipe list")
def list_recipes() -> None:
    """List the shipped recipes."""
    table = Table(title=f"Shipped recipes ({RECIPES_DIR})")
    for col in ("name", "target", "explorer", "G", "N", "steps", "engine"):
        table.add_column(col)
    for name in shipped_recipes():
        r = load_recipe(name)
        table.add_row(
            name, r.models.target, r.models.explorer or "-", str(r.rollout.group_size),
            str(r.schedule.anneal_steps), str(r.schedule.total_steps), r.engine.kind,
        )
    out.print(table)


@app.command("show", epilog="Example: s2lpo recipe show 1.7b_8b --set schedule.anneal_steps=4")
def show(name: RecipeArg, set_: SetOpt = None) -> None:
    """Print a recipe resolved (defaults filled in, overrides applied) and its schedule."""
    recipe = load_recipe(name, set_)
    out.print(Syntax(to_yaml(recipe), "yaml"))
    out.print(schedule_table(recipe))


@app.command("validate", epilog="Example: s2lpo recipe validate recipes/*.yaml")
def validate(files: Annotated[list[Path], typer.Argument(help="Recipe files to check.")]) -> None:
    """Validate recipe files; every problem of every file is listed, exit 2 if any."""
    failures = []
    for f in files:
        try:
            load_recipe(f)
            err.print(f"[green]ok[/] {f}")
        except UserError as exc:
            failures.append(str(exc))
    if failures:
        raise UserError("\n".join(failures))


@app.command("schema", epilog="Example: s2lpo recipe schema > recipe.schema.json")
def schema() -> None:
    """Print the recipe's JSON schema (for editor completion)."""
    print(json.dumps(Recipe.model_json_schema(), indent=2))
