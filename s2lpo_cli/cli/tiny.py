"""`s2lpo tiny` (being built; see issue 3)."""

import typer

app = typer.Typer(help="Tiny local Qwen3-architecture models for CPU runs.", no_args_is_help=True, epilog="Example: s2lpo tiny init tiny_models")


@app.command("init", epilog="Example: s2lpo tiny init tiny_models")
def init() -> None:
    """Build and warm up the tiny explorer and target."""
    raise typer.Exit(2)
