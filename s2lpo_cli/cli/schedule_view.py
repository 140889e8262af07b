"""The schedule table shown by `train --dry-run` and `recipe show`."""

from __future__ import annotations

from rich.table import Table

from s2lpo_cli.recipe import Recipe
from s2lpo_cli.schedule import plan


def schedule_table(recipe: Recipe) -> Table:
    s, g = recipe.schedule, recipe.rollout.group_size
    title = f"Schedule: G={g}, N={s.anneal_steps}, {s.total_steps} steps, mode={s.mode}"
    table = Table(title=title)
    for col in ("step", "alpha", "G_w (explorer)", "G_s (target)"):
        table.add_column(col, justify="right")
    if s.mode == "split":
        table.add_column("physical steps")
    for p in plan(s.total_steps, s.anneal_steps, g, s.mode):
        row = [str(p.step), f"{p.alpha:.3f}", str(p.explorer), str(p.target)]
        if s.mode == "split":
            row.append(" + ".join(f"{ph.phase}({ph.group_size})" for ph in p.physical))
        table.add_row(*row)
    return table
