"""`s2lpo tiny`: build the tiny local explorer/target pair and the synthetic task (the embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from s2lpo_cli.cli.console import err, out, progress_enabled

EPILOG = "Example: s2lpo tiny init tiny_models"
INIT_EPILOG = "Example: s2lpo tiny init tiny_models --seed 1 --force"

app = typer.Typer(help="Tiny local Qwen3-architecture models for CPU runs.", no_args_is_help=True, epilog=EPILOG)


@app.command("init", epilog=INIT_EPILOG)
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to write explorer/, target/ and data/ into.")],
    seed: Annotated[int, typer.Option(help="Seed of the task, the tokenizer corpus and the initial weights.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Rebuild over an existing build in DIRECTORY.")] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer warm-up steps (tests, CI): faster, lower accuracy.")
    ] = False,
) -> None:
    """Build and warm up the tiny explorer and target, and write the synthetic train/held-out sets."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from s2lpo_cli.tiny.build import build_tiny

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=not progress_enabled()) as bar:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        err.print(f"building the tiny pair in {directory} (seed {seed}, {'quick' if quick else 'full'} warm-up)")
        result = build_tiny(directory, seed=seed, profile="quick" if quick else "full", force=force,
                            progress=on_progress)
    out.print(_table(result))
    out.print(f"built in {result.seconds:.1f} s; explorer: {directory / 'explorer'}  target: {directory / 'target'}  "
              f"data: {directory / 'data'}", highlight=False)


def _table(result):  # noqa: ANN001, ANN202 - BuildResult, rich Table (imported lazily)
    from rich.table import Table

    families = [f for f in result.models[0].train_accuracy if f != "all"]
    table = Table(title=f"tiny models (accuracy: one sample per question at temperature 1, seed {result.seed})")
    for column in ("model", "params", "warm-up steps", "warm-up s", "held-out acc", "train acc",
                   *(f"train {f}" for f in families)):
        table.add_column(column, justify="left" if column == "model" else "right")
    for m in result.models:
        train = m.train_accuracy
        table.add_row(m.name, f"{m.params:,}", str(m.warmup_steps), f"{m.warmup_seconds:.1f}",
                      f"{m.heldout_accuracy['all']:.1%}", f"{train['all']:.1%}", *(f"{train[f]:.1%}" for f in families))
    return table
