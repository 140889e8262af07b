"""Validation during training, engine-neutral: what the recipe's `validation` section evaluates, when,
and `val.jsonl`, the run folder's log of it.

The questions, prompts, sampling settings and grading are those of `s2lpo eval`: the section becomes
an `EvalSettings`, and the embedded trainer runs `evaluation.runner.run_eval` with it. The response budget
is the run's `rollout.max_response_tokens` (verl validates under `data.max_response_length` too).

val.jsonl holds one JSON object per (step, benchmark), keys in `VAL_KEYS` order:
  step            logical step whose weights answered (0: before training)
  benchmark       registered name, or a file's name without its suffix
  n_questions, k, pass@1, pass@k ({"1": .., "2": .., ..., "<k>": ..}), accuracy, mean_length,
  truncated_rate, timeouts      as in `s2lpo eval`'s summary.json (null where an engine does not log them)
  grading_rules_version, spec_version   the rules the answers were graded under
  mode            the eval mode's sampling settings used
  seconds         wall time of generating and grading this benchmark at this step
Rows are appended and fsynced as each benchmark finishes. A resumed run first cuts the rows of steps after
its checkpoint (`keep_through`); those steps are validated again with the weights it recomputes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.evaluation.settings import EvalSettings, resolve_sampling
from s2lpo_cli.recipe import Recipe, ValidationConfig
from s2lpo_cli.training.metrics import read as read_complete_lines

VAL_KEYS = ("step", "benchmark", "n_questions", "k", "pass@1", "pass@k", "accuracy", "mean_length", "truncated_rate",
            "timeouts", "grading_rules_version", "spec_version", "mode", "seconds")
FILE_SUFFIXES = (".jsonl", ".parquet")


def is_file_entry(entry: str) -> bool:
    """A benchmark entry naming a file (a path or a jsonl/parquet name) rather than a registered benchmark."""
    return "/" in entry or entry.endswith(FILE_SUFFIXES)


def entry_name(entry: str) -> str:
    """The name results carry: a registered name as is, a file's name without its suffix (as `--benchmark-file`)."""
    if not is_file_entry(entry):
        return entry
    name = Path(entry).name
    for suffix in FILE_SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def sampling(v: ValidationConfig, max_tokens: int) -> dict[str, Any]:
    """The mode's sampling settings with the section's overrides and the run's response budget."""
    return resolve_sampling(v.mode, temperature=v.temperature, top_p=v.top_p, top_k=v.top_k,
                            presence_penalty=v.presence_penalty, max_tokens=max_tokens)


def eval_settings(recipe: Recipe) -> EvalSettings:
    """The `s2lpo eval` settings that validation of `recipe` runs with (files resolved to absolute paths)."""
    v = recipe.validation
    benchmarks = {entry_name(b): str(Path(b).resolve()) if is_file_entry(b) else None for b in v.benchmarks}
    return EvalSettings(
        model=recipe.models.target, mode=v.mode, k=v.k, sampling=sampling(v, recipe.rollout.max_response_tokens),
        seed=v.seed, benchmarks=benchmarks, data_dir=str(Path(v.data_dir).resolve()), limit=v.limit,
        instruction=v.instruction,
    )


def validation_steps(v: ValidationConfig, total_steps: int) -> list[int]:
    """The logical steps after which validation runs: 0 (before training) when asked, every K-th, the last."""
    if not v.enabled:
        return []
    steps = [0] if v.before_train else []
    return steps + [t for t in range(1, total_steps + 1) if t % v.every == 0 or t == total_steps]


def val_row(step: int, benchmark: str, summary_entry: dict[str, Any], mode: str, seconds: float) -> dict[str, Any]:
    """A val.jsonl row from a benchmark's summary.json entry (`evaluation.scoring.summary_entry`)."""
    row = {"step": step, "benchmark": benchmark, **summary_entry, "mode": mode, "seconds": seconds}
    return {key: row.get(key) for key in VAL_KEYS}


# ---------------------------------------------------------------------------------------------- val.jsonl


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Complete lines only: a line cut by a kill ends the log (as metrics.jsonl's)."""
    return read_complete_lines(path)


def append_row(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({key: row[key] for key in VAL_KEYS}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def keep_through(path: Path, step: int) -> list[dict[str, Any]]:
    """Cut val.jsonl to the rows of steps <= `step` (a torn last line goes too); returns the rows kept."""
    kept = [r for r in read_rows(path) if r["step"] <= step]
    if path.is_file():
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept
