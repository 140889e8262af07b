"""The report's tables, built once as plain cells and rendered for the terminal (rich) or report.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.table import Table

MAX_STEP_ROWS = 40


@dataclass(frozen=True)
class Grid:
    title: str
    columns: list[str]
    rows: list[list[str]]


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def delta_pt(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f} pt"


def num(x: float | int | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    return str(x) if isinstance(x, int) else f"{x:.{digits}f}"


def tokens(x: int | None) -> str:
    return "—" if x is None else f"{x:,}"


def training_overview(data: dict[str, Any]) -> Grid | None:
    """The headline is the target's own reward; the all-responses reward and the explorer part are labelled."""
    runs = [r for r in data["runs"] if r["training"]]
    if not runs:
        return None
    rows = []
    for r in runs:
        t = r["training"]
        final = "—" if t["final_target_reward"] is None else f"{t['final_target_reward']:.3f} (last {t['final_k']})"
        best = "—" if t["best_target_reward"] is None else (
            f"{t['best_target_reward']:.3f} (step {t['best_target_step']}, window {t['smoothing_window']})")
        rows.append([r["name"], t["status"], num(t["anneal_steps"]), num(t["group_size"]), t["mode"] or "—",
                     final, best, num(t["final_reward_all_responses"]), num(t["explorer_reward_mean"]),
                     tokens(t["target_tokens"])])
    cols = ["run", "status", "N", "G", "mode", "final target reward", "best target reward (rolling mean)",
            "all responses, same last steps", "explorer part (steps with G_w>0)", "target tokens"]
    return Grid("Training: the target's own reward (explorer responses excluded)", cols, rows)


def _shown(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Long runs: every step of the first 20, then evenly spaced ones, always the last."""
    if len(steps) <= MAX_STEP_ROWS:
        return steps
    stride = -(-(len(steps) - 20) // (MAX_STEP_ROWS - 21))
    return steps[:20] + steps[20:-1:stride] + steps[-1:]


def schedule_grid(run: dict[str, Any]) -> Grid:
    """Per step: the schedule G_w/G_s and what happened; planned steps not run yet are marked pending."""
    t = run["training"]
    done = {s["step"]: s for s in t["steps"]}
    planned = {p["step"]: p for p in t["planned"]}
    rows = []
    for step in _shown(sorted(set(done) | set(planned))):
        s, p = done.get(step), planned.get(step)
        if s is None:
            rows.append([str(step), "pending", num(p["alpha"], 2), str(p["g_w"]), str(p["g_s"])] + ["—"] * 6)
            continue
        rows.append([
            str(step), "+".join(s["phases"]), num(s["alpha"], 2), num(s["g_w"]), num(s["g_s"]), num(s["reward_mean"]),
            num(s["reward_explorer"]), num(s["reward_target"]), num(s["accuracy"]), num(s["response_len"], 1),
            tokens(s["target_tokens"]),
        ])
    cols = ["step", "phase", "alpha", "G_w", "G_s", "reward", "explorer part", "target part", "accuracy",
            "resp len", "target tokens"]
    return Grid(f"{run['name']}: schedule and reward per step, {t['status']}", cols, rows)


def benchmark_grid(data: dict[str, Any], bench: str) -> Grid:
    rows = []
    for r in data["runs"]:
        b = r["benchmarks"].get(bench)
        if b is None:
            rows.append([r["name"], "missing"] + ["—"] * 7)
            continue
        is_base = r["name"] == data["baseline"]
        rows.append([
            r["name"], num(b["n_questions"]), pct(b["pass@1"]), "baseline" if is_base else delta_pt(b["delta_pass@1"]),
            f"{pct(b['pass@k'])} (k={b['k']})", "" if is_base else delta_pt(b["delta_pass@k"]),
            pct(b["accuracy"]), "" if is_base else delta_pt(b["delta_accuracy"]), num(b["mean_length"], 1),
        ])
    cols = ["run", "questions", "Pass@1", "Δ Pass@1", "Pass@k", "Δ Pass@k", "accuracy", "Δ accuracy", "mean length"]
    return Grid(f"{bench} (Δ against {data['baseline']})", cols, rows)


def _mean_sd(point: dict[str, Any]) -> str:
    return pct(point["mean"]) + ("" if point["sd"] is None else f" ± {100 * point['sd']:.1f}")


def validation_grid(data: dict[str, Any]) -> Grid | None:
    """Per benchmark and arm: validation Pass@1 before training and at the last step, and the first step
    (with the target tokens spent by then) at which the arm's mean reaches the stated accuracy."""
    curves, reach = data["validation"]["curves"], data["validation"]["reach"]
    if not curves:
        return None
    rows = []
    for bench, arms in curves.items():
        goal = reach.get(bench)
        for arm, curve in arms.items():
            first = goal["arms"].get(arm) if goal else None
            reached = "—" if goal is None else "not reached" if first is None else (
                f"step {first['step']}" + ("" if first["target_tokens"] is None else f" ({first['target_tokens']:,.0f} tokens)"))
            start = curve[0] if curve and curve[0]["step"] == 0 else None
            rows.append([bench, arm, _mean_sd(start) if start else "—", f"{_mean_sd(curve[-1])} (step {curve[-1]['step']})",
                         "—" if goal is None else pct(goal["accuracy"]), reached])
    sources = sorted({g["source"] for g in reach.values()})
    title = "Validation Pass@1 during training (val.jsonl); first step reaching the accuracy" + (
        f" ({'; '.join(sources)})" if sources else "")
    return Grid(title, ["benchmark", "arm", "step 0", "last", "accuracy to reach", "first reached"], rows)


def all_grids(data: dict[str, Any]) -> list[Grid]:
    grids = [g for g in [training_overview(data), validation_grid(data)] if g]
    grids += [schedule_grid(r) for r in data["runs"] if r["training"]]
    grids += [benchmark_grid(data, b) for b in data["benchmarks"]]
    return grids


def to_rich(grid: Grid) -> Table:
    table = Table(title=grid.title, title_justify="left")
    for i, col in enumerate(grid.columns):
        table.add_column(col, justify="left" if i == 0 or col in ("status", "phase", "mode") else "right")
    for row in grid.rows:
        style = "dim" if "pending" in row or "missing" in row else None
        table.add_row(*row, style=style)
    return table


def to_markdown(grid: Grid) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = [f"**{esc(grid.title)}**", "", "| " + " | ".join(grid.columns) + " |",
             "|" + "|".join("---" for _ in grid.columns) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in grid.rows]
    return "\n".join(lines)
