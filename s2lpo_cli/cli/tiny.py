"""`s2lpo tiny`: the tiny local explorer/target pair and its synthetic task (the embedded default)."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from s2lpo_cli.console import err, out, progress_enabled
from s2lpo_cli.errors import UserError
from s2lpo_cli.tiny.task import DEFAULT_TASK, TASKS

EPILOG = "Example: s2lpo tiny init tiny_models"
INIT_EPILOG = (
    "Examples: s2lpo tiny init tiny_models  |  s2lpo tiny init tiny_transfer --task transfer  |  "
    "s2lpo tiny init tiny_models --build --seed 1 --force"
)
OTHER_CPU = (
    "another CPU may build other weights than the shipped pair from the same seed (torch's kernels round "
    "differently by instruction set); the shipped pair is the same everywhere"
)

TaskName = Enum("TaskName", {k: k for k in TASKS}, type=str)

app = typer.Typer(
    help="Tiny local Qwen3-architecture models for CPU runs.", no_args_is_help=True, epilog=EPILOG
)


@app.command("init", epilog=INIT_EPILOG)
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to write explorer/, target/ and data/ into.")],
    task: Annotated[
        TaskName, typer.Option(help="arith: memorised facts. transfer: a procedure family (docs/toy.md).")
    ] = TaskName(DEFAULT_TASK),
    build: Annotated[
        bool, typer.Option("--build", help="Build and warm up the pair here instead of copying the shipped one.")
    ] = False,
    seed: Annotated[
        int, typer.Option(help="With --build: seed of the task, the tokenizer corpus and the initial weights.")
    ] = 0,
    quick: Annotated[
        bool, typer.Option("--quick", help="With --build: fewer warm-up steps (build tests): faster, weaker.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a pair already in DIRECTORY.")] = False,
) -> None:
    """Lay out the shipped tiny explorer and target with their synthetic train/held-out sets (or build them)."""
    if not build and (quick or seed != 0):
        raise UserError("--seed and --quick choose what --build builds; the shipped pair is seed 0, full "
                        "warm-up. Add --build to build one (minutes)")
    if build:
        manifest = _build(directory, task.value, seed, quick, force)
    else:
        start = time.perf_counter()
        from s2lpo_cli.tiny.shipped_pair import lay_out

        manifest = lay_out(task.value, directory, force)
        err.print(f"copied the shipped {task.value} pair in {time.perf_counter() - start:.1f} s "
                  f"(built in {manifest['seconds']:.0f} s; --build builds one here)", highlight=False)
    out.print(_table(manifest))
    out.print(
        f"explorer: {directory / 'explorer'}  target: {directory / 'target'}  data: {directory / 'data'}",
        highlight=False,
    )


def _build(directory: Path, task_name: str, seed: int, quick: bool, force: bool) -> dict[str, Any]:
    from dataclasses import asdict

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

        err.print(f"building the tiny {task_name} pair in {directory} (seed {seed}, "
                  f"{'quick' if quick else 'full'} warm-up); {OTHER_CPU}", highlight=False)
        result = build_tiny(directory, seed=seed, profile="quick" if quick else "full", force=force,
                            progress=on_progress, task_name=task_name)
    err.print(f"built in {result.seconds:.1f} s", highlight=False)
    return asdict(result)


def _table(manifest: dict[str, Any]):  # noqa: ANN202 - a rich Table (imported lazily)
    from rich.table import Table

    models = manifest["models"]
    task_name = manifest.get("task", DEFAULT_TASK)
    table = Table(title=f"tiny {task_name} pair (accuracy: one sample per question at temperature 1)")
    table.add_column("")
    for m in models:
        table.add_column(m["name"], justify="right")
    table.add_row("parameters", *(f"{m['params']:,}" for m in models))
    table.add_row("warm-up steps", *(str(m["warmup_steps"]) for m in models))
    table.add_row("CPU time", *(f"{m['cpu_seconds']:.0f} s" for m in models))
    table.add_row("held-out accuracy", *(f"{m['heldout_accuracy']['all']:.1%}" for m in models))
    table.add_row("train accuracy", *(f"{m['train_accuracy']['all']:.1%}" for m in models))
    for family in TASKS[task_name]:
        table.add_row(f"  held-out: {family}", *(f"{m['heldout_accuracy'][family]:.1%}" for m in models))
    return table
