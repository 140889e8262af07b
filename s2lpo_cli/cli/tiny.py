"""`s2lpo tiny`: build the tiny local explorer/target pair and the synthetic task (the embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from s2lpo_cli.console import err, out, progress_enabled

EPILOG = "Example: s2lpo tiny init tiny_models"
INIT_EPILOG = "Example: s2lpo tiny init tiny_models --seed 1 --force"

app = typer.Typer(
    help="Tiny local Qwen3-architecture models for CPU runs.", no_args_is_help=True, epilog=EPILOG
)


@app.command("init", epilog=INIT_EPILOG)
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to write explorer/, target/ and data/ into.")],
    seed: Annotated[
        int, typer.Option(help="Seed of the task, the tokenizer corpus and the initial weights.")
    ] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild over an existing build in DIRECTORY.")
    ] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer warm-up steps (tests, CI): faster, lower accuracy.")
    ] = False,
) -> None:
    """Build and warm up the tiny explorer and target, and write the synthetic train/held-out sets."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from s2lpo_cli.tiny.build import build_tiny

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not progress_enabled(),
    ) as bar:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        err.print(
            f"building the tiny pair in {directory} (seed {seed}, {'quick' if quick else 'full'} warm-up)"
        )
        result = build_tiny(
            directory, seed=seed, profile="quick" if quick else "full", force=force, progress=on_progress
        )
    out.print(_table(result))
    out.print(
        f"built in {result.seconds:.1f} s; explorer: {directory / 'explorer'}  "
        f"target: {directory / 'target'}  data: {directory / 'data'}",
        highlight=False,
    )


def _table(result):  # noqa: ANN001, ANN202 - BuildResult, rich Table (imported lazily)
    from rich.table import Table

    from s2lpo_cli.tiny.task import FAMILIES

    table = Table(title="tiny models (accuracy: one sample per question at temperature 1)")
    table.add_column("")
    for m in result.models:
        table.add_column(m.name, justify="right")
    table.add_row("parameters", *(f"{m.params:,}" for m in result.models))
    table.add_row("warm-up steps", *(str(m.warmup_steps) for m in result.models))
    table.add_row("warm-up time", *(f"{m.warmup_seconds:.0f} s" for m in result.models))
    table.add_row("CPU time", *(f"{m.cpu_seconds:.0f} s" for m in result.models))
    table.add_row("held-out accuracy", *(f"{m.heldout_accuracy['all']:.1%}" for m in result.models))
    table.add_row("train accuracy", *(f"{m.train_accuracy['all']:.1%}" for m in result.models))
    for family in FAMILIES:
        table.add_row(f"  train: {family}", *(f"{m.train_accuracy[family]:.1%}" for m in result.models))
    return table
