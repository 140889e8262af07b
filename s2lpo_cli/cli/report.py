"""`s2lpo report`: compare training runs and evaluations side by side."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from s2lpo_cli.console import err, out

EPILOG = (
    "Example: s2lpo report runs/tiny runs/tiny_grpo --out report  |  "
    "s2lpo report runs/base_eval runs/tiny runs/tiny_grpo --baseline base_eval  |  "
    "s2lpo report runs/a runs/b runs/c --group s2lpo=a,b  |  "
    "s2lpo report runs/s2lpo_seed0 runs/s2lpo_seed1 runs/grpo_seed0 runs/grpo_seed1 --reach 0.4"
)


def report(
    run_dirs: Annotated[
        list[str],
        typer.Argument(
            help="Run folders: a training run (recipe.yaml, metrics.jsonl), an `s2lpo eval --output` folder, "
            "or a folder holding both.",
            show_default=False,
        ),
    ],
    out_dir: Annotated[str, typer.Option("--out", help="Where report.md, report.json and the PNG plots go.")] = "report",
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="The run the others are compared against: its folder name, or its position from 1. Default: the first."),
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="NAME=RUN,RUN: runs that are seeds of one arm (mean, sd bands). Default: runs "
                     "whose names differ only in digits (seed0, seed1) form an arm."),
    ] = None,
    reach: Annotated[
        float | None,
        typer.Option("--reach", min=0.0, max=1.0, help="Validation Pass@1 (0-1) whose first step each arm reports. "
                     "Default: per benchmark, the baseline arm's final validation Pass@1 (how soon each arm gets "
                     "where the baseline ended)."),
    ] = None,
) -> None:
    """Compare training runs and evaluations: tables, PNG plots, report.md and report.json."""
    from rich.console import Console
    from rich.measure import Measurement

    from s2lpo_cli.reporting.report import make_report
    from s2lpo_cli.reporting.tables import to_rich

    result = make_report(run_dirs, out_dir, baseline, group, reach)
    for run in result.data["runs"]:
        for note in run["notes"]:
            err.print(f"[yellow]{run['name']}:[/] {note}", highlight=False)
    for warning in result.data["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for line in result.data["verdict"]:
        out.print(line, highlight=False, soft_wrap=True)
    for grid in result.grids:
        table = to_rich(grid)
        # Into a file or pipe: full-width rows rather than cells wrapped at 80 columns.
        if out.is_terminal:
            out.print(table)
        else:
            width = max(out.width, Measurement.get(out, out.options.update_width(1000), table).maximum)
            Console(file=sys.stdout, width=width).print(table)
    err.print(f"[green]report:[/] {result.markdown} ({len(result.plots)} plots, numbers in {result.json})", highlight=False)
