"""A run, for the report: one folder holding a training run, evaluation results, or both."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from s2lpo_cli.errors import UserError
from s2lpo_cli.reporting.checkpoint_scores import load_checkpoint_scores
from s2lpo_cli.reporting.eval_results import EvalResults, load_eval_results
from s2lpo_cli.reporting.training_log import METRICS, RECIPE, TrainingLog, is_training_run, load_training_log
from s2lpo_cli.reporting.validation import load_validation


@dataclass
class Run:
    name: str
    path: Path
    training: TrainingLog | None
    evals: EvalResults | None
    checkpoint_scores: dict[int, float] = field(default_factory=dict)
    validation: dict[str, dict[int, float]] = field(default_factory=dict)  # val.jsonl: {benchmark: {step: Pass@1}}

    @property
    def notes(self) -> list[str]:
        notes = []
        if self.training is not None:
            notes.extend(self.training.notes)
        else:
            notes.append("no training run in this folder (evaluation only)")
        if self.evals is not None:
            notes.extend(self.evals.notes)
        else:
            notes.append("no evaluation results (result/*/summary.json) under this folder")
        return notes


def load_run(path: str | Path) -> Run:
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder (give a training run folder or an `s2lpo eval --output` folder)")
    training = load_training_log(folder) if is_training_run(folder) else None
    evals = load_eval_results(folder)
    if training is None and evals is None:
        raise UserError(
            f"{folder}: not a run: no {METRICS} or {RECIPE} (written by `s2lpo train`) and no "
            "result/*/summary.json or result/*/<bench>.json (written by `s2lpo eval --output DIR`) under it"
        )
    return Run(name=folder.resolve().name, path=folder, training=training, evals=evals,
               checkpoint_scores=load_checkpoint_scores(folder), validation=load_validation(folder))


def load_runs(paths: list[str | Path]) -> list[Run]:
    """Load every folder; names are folder names, made unique with their parent when two clash."""
    runs = [load_run(p) for p in paths]
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.name] = seen.get(run.name, 0) + 1
    for run in runs:
        if seen[run.name] > 1:
            resolved = run.path.resolve()
            run.name = f"{resolved.parent.name}/{resolved.name}"
    names = [r.name for r in runs]
    if len(set(names)) < len(names):
        raise UserError(f"the same run folder was given twice: {', '.join(n for n in names if names.count(n) > 1)}")
    return runs


def pick_baseline(runs: list[Run], choice: str | None) -> Run:
    """The run others are compared against: by name, or by its position on the command line (from 1)."""
    if choice is None:
        return runs[0]
    for run in runs:
        if choice in (run.name, str(run.path)):
            return run
    if choice.isdigit() and 1 <= int(choice) <= len(runs):
        return runs[int(choice) - 1]
    listed = ", ".join(f"{i}: {r.name}" for i, r in enumerate(runs, 1))
    raise UserError(f"--baseline {choice!r}: no such run; give a name or a position ({listed})")
