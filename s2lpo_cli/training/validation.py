"""Validation in the embedded trainer: at the planned steps the live weights run `s2lpo eval`'s own loop.

Each benchmark is one `run_eval` call into `validation/step_NNNN/<bench>/` with the trainer's engine (the
live policy) and its grader, so a val.jsonl row is what `s2lpo eval` gives for a checkpoint of the same
weights with the same questions, seed and settings. Resuming from a checkpoint after step c drops the
rows and files of steps after c; a (step, benchmark) already in val.jsonl is not validated again.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from s2lpo_cli.evaluation.layout import RunDirs
from s2lpo_cli.evaluation.runner import run_eval
from s2lpo_cli.evaluation.validation import (
    append_row,
    eval_settings,
    keep_through,
    read_rows,
    val_row,
    validation_steps,
)
from s2lpo_cli.grading.grader import Grader
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.run_folder import VALIDATION, RunFolder


def row_line(row: dict[str, Any]) -> str:
    """The console line of one val.jsonl row."""
    k = row["k"]
    return (f"validation step {row['step']}: {row['benchmark']} pass@1 {100 * row['pass@1']:.1f}%  "
            f"pass@{k} {100 * row['pass@k'][str(k)]:.1f}%  ({row['n_questions']} questions x {k}, {row['seconds']:.1f}s)")


class Validation:
    """`validate(step, engine)` after each logical step; it does nothing at steps the recipe does not plan."""

    def __init__(self, recipe: Recipe, folder: RunFolder, grader: Grader, say: Callable[[str], None] | None = None):
        self.settings = eval_settings(recipe) if recipe.validation.enabled else None
        self.steps = set(validation_steps(recipe.validation, recipe.schedule.total_steps))
        self.folder, self.grader, self.say = folder, grader, say

    def resume_after(self, step: int) -> None:
        """Forget validation after logical step `step` (the checkpoint resumed from; 0 when starting over)."""
        keep_through(self.folder.val_path, step)
        root = self.folder.root / VALIDATION
        for done in root.glob("step_*") if root.is_dir() else []:
            if done.name.removeprefix("step_").isdigit() and int(done.name.removeprefix("step_")) > step:
                shutil.rmtree(done)

    def validate(self, step: int, engine: Any) -> float:
        """Validate the weights `engine` generates with, if `step` is planned; returns the seconds it took."""
        if self.settings is None or step not in self.steps:
            return 0.0
        start = time.perf_counter()
        logged = {row["benchmark"] for row in read_rows(self.folder.val_path) if row["step"] == step}
        for name, file in self.settings.benchmarks.items():
            if name in logged:
                continue
            began = time.perf_counter()
            where = self.folder.validation(step) / name
            summary = run_eval(replace(self.settings, benchmarks={name: file}), RunDirs(where, where),
                               lambda: engine, self.grader)
            row = val_row(step, name, summary["benchmarks"][name], self.settings.mode, time.perf_counter() - began)
            append_row(self.folder.val_path, row)
            if self.say is not None:
                self.say(row_line(row))
        return time.perf_counter() - start
