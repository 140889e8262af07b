"""A training run folder as the report sees it: the resolved recipe and metrics.jsonl, step by step.

One metrics line is one physical optimizer step; `split` mode writes two per logical step (explorer
then target). Steps are folded back into logical steps here so every run is compared on the same axis.
A run still going may end in a half-written line: it is skipped and noted, never an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from s2lpo_cli.errors import UserError
from s2lpo_cli.run_folder import METRICS, RECIPE, RunFolder
from s2lpo_cli.schedule import plan


@dataclass(frozen=True)
class StepStats:
    """One logical step t, with its physical steps merged (response-weighted means, summed tokens)."""

    step: int
    phases: tuple[str, ...]
    alpha: float | None
    g_w: int | None
    g_s: int | None
    reward_mean: float | None
    reward_explorer: float | None
    reward_target: float | None
    accuracy: float | None
    kl: float | None
    entropy: float | None
    response_len: float | None
    target_tokens: int | None
    step_time_s: float | None


@dataclass(frozen=True)
class PlannedStep:
    step: int
    alpha: float
    g_w: int
    g_s: int


@dataclass
class TrainingLog:
    path: Path
    recipe: dict[str, Any] | None
    steps: list[StepStats]
    planned: list[PlannedStep]
    has_final: bool
    notes: list[str] = field(default_factory=list)

    @property
    def total_steps(self) -> int | None:
        return len(self.planned) if self.planned else None

    @property
    def complete(self) -> bool:
        total = self.total_steps
        return total is not None and bool(self.steps) and self.steps[-1].step >= total and self.has_final

    @property
    def status(self) -> str:
        done = self.steps[-1].step if self.steps else 0
        total = self.total_steps
        if self.complete:
            return f"complete ({done} steps)"
        if total is None:
            return f"{done} steps logged (total unknown)"
        return f"partial: {done}/{total} steps"


def is_training_run(path: Path) -> bool:
    return RunFolder(path).metrics_path.is_file() or RunFolder(path).recipe_path.is_file()


def read_metrics(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse metrics.jsonl. A bad line names file:line; only a half-written last line is tolerated."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if lineno == len(lines):  # no newline after it: still being written
                notes.append(f"{path}:{lineno}: last line is incomplete (run still writing?); skipped")
                continue
            raise UserError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise UserError(f"{path}:{lineno}: expected a JSON object per line, got {type(obj).__name__}")
        if not isinstance(obj.get("step"), int) or obj["step"] < 1:
            raise UserError(f"{path}:{lineno}: field 'step' must be an integer >= 1, got {obj.get('step')!r}")
        rows.append(obj)
    return rows, notes


def _weighted(rows: list[dict[str, Any]], key: str) -> float | None:
    pairs = [(r[key], (r.get("g_w") or 0) + (r.get("g_s") or 0) or 1) for r in rows if r.get(key) is not None]
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total


def _first(rows: list[dict[str, Any]], key: str) -> Any:
    return next((r[key] for r in rows if r.get(key) is not None), None)


def _max(rows: list[dict[str, Any]], key: str) -> Any:
    values = [r[key] for r in rows if r.get(key) is not None]
    return max(values) if values else None


def _sum(rows: list[dict[str, Any]], key: str) -> Any:
    values = [r[key] for r in rows if r.get(key) is not None]
    return sum(values) if values else None


def fold_steps(rows: list[dict[str, Any]]) -> list[StepStats]:
    """Merge the physical steps of each logical step (a resumed run may repeat a step: the last wins)."""
    by_step: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        group = by_step.setdefault(row["step"], [])
        if any(r.get("phase") == row.get("phase") for r in group):  # a resumed run rewrote this step
            group[:] = [r for r in group if r.get("phase") != row.get("phase")]
        group.append(row)
    out = []
    for step in sorted(by_step):
        group = by_step[step]
        out.append(
            StepStats(
                step=step,
                phases=tuple(str(r.get("phase", "mixed")) for r in group),
                alpha=_first(group, "alpha"),
                g_w=_max(group, "g_w"),
                g_s=_max(group, "g_s"),
                reward_mean=_weighted(group, "reward_mean"),
                reward_explorer=_weighted(group, "reward_explorer"),
                reward_target=_weighted(group, "reward_target"),
                accuracy=_weighted(group, "accuracy"),
                kl=_weighted(group, "kl"),
                entropy=_weighted(group, "entropy"),
                response_len=_weighted(group, "response_len"),
                target_tokens=_sum(group, "target_tokens"),
                step_time_s=_sum(group, "step_time_s"),
            )
        )
    return out


def _planned(recipe: dict[str, Any] | None, where: Path) -> list[PlannedStep]:
    if recipe is None:
        return []
    schedule = recipe.get("schedule") or {}
    rollout = recipe.get("rollout") or {}
    try:
        steps = plan(
            int(schedule.get("total_steps")),
            int(schedule.get("anneal_steps", 0)),
            int(rollout.get("group_size")),
            schedule.get("mode", "mixed"),
        )
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: schedule.total_steps, schedule.anneal_steps and rollout.group_size are needed ({exc})") from None
    return [PlannedStep(p.step, p.alpha, p.explorer, p.target) for p in steps]


def read_recipe(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected the resolved recipe (a YAML mapping), got {type(data).__name__}")
    return data


def load_training_log(path: Path) -> TrainingLog:
    """Read a training run folder; whatever is missing becomes a note, not an error."""
    notes: list[str] = []
    folder = RunFolder(path)
    recipe = read_recipe(folder.recipe_path) if folder.recipe_path.is_file() else None
    if recipe is None:
        notes.append(f"no {RECIPE}: the schedule length is unknown")
    if folder.metrics_path.is_file():
        rows, more = read_metrics(folder.metrics_path)
        notes.extend(more)
    else:
        rows = []
        notes.append(f"no {METRICS} yet: no step has finished")
    log = TrainingLog(
        path=path,
        recipe=recipe,
        steps=fold_steps(rows),
        planned=_planned(recipe, folder.recipe_path),
        has_final=folder.final.is_dir(),
    )
    if log.total_steps is not None and log.steps and log.steps[-1].step < log.total_steps:
        notes.append(f"training stopped or still running: {log.steps[-1].step} of {log.total_steps} steps logged")
    elif log.steps and not log.has_final:
        notes.append("no final/ model yet")
    log.notes = notes
    return log
