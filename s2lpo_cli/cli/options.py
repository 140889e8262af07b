"""Option aliases shared by several subcommands."""

from __future__ import annotations

from typing import Annotated

import typer

RecipeArg = Annotated[str, typer.Argument(help="A shipped recipe's name (see `s2lpo recipe list`) or a path to a YAML recipe.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe field, re-validated after merging: --set optim.lr=2e-6 (repeatable)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
