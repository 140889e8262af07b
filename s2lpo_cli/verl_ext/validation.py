"""verl's validation metrics as val.jsonl rows, the shape the embedded trainer writes.

verl 0.9.1 (`trainer/ppo/v1/trainer_base.py`, `_val_metrics_update`) logs, per data source (our val rows
carry the benchmark's name there) and per reward variable, `val-core/<benchmark>/acc/mean@N` and friends,
at global step 0 before training and at every `test_freq`-th and the last global step. Our reward returns
`acc` (1.0 right, 0.0 wrong, as `s2lpo eval` grades), so `mean@N` over the N = validation.k samples of every
question is Pass@1 (and the accuracy). verl logs no unbiased Pass@k (its `best@N` is a bootstrap with
replacement), no lengths and no per-benchmark time: those are null here; the step's validation time is
`time_validation_s` in metrics.jsonl. The generations are in `<run>/verl/validation/<global step>.jsonl`.

A resumed run leaves one log per attempt and validates again where it resumes (verl's val_before_train):
for a (step, benchmark) logged twice the later attempt wins, as for metrics.jsonl.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.data.benchmarks import spec_of
from s2lpo_cli.evaluation.validation import VAL_KEYS, eval_settings
from s2lpo_cli.grading.version import RULES_VERSION
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.run_folder import RunFolder
from s2lpo_cli.schedule import step_plan
from s2lpo_cli.verl_ext.command import VerlPaths
from s2lpo_cli.verl_ext.logs import log_entries

PASS1 = re.compile(r"^val-core/(?P<benchmark>.+)/acc/mean@(?P<n>\d+)$")
TIMEOUTS = "val-aux/{benchmark}/timeout/mean@{n}"


def is_validation_only(data: dict[str, Any]) -> bool:
    """A log line of validation alone (before training, or verl's validation where a resumed run starts)."""
    return bool(data) and all(key.startswith("val-") for key in data)


def questions_per_benchmark(val_parquet: Path) -> dict[str, int]:
    if not val_parquet.is_file():
        return {}
    return dict(Counter(pq.read_table(val_parquet, columns=["data_source"]).column("data_source").to_pylist()))


def val_rows(global_step: int, data: dict[str, Any], recipe: Recipe, questions: dict[str, int]) -> list[dict[str, Any]]:
    """The val.jsonl rows of one verl log line (none when it holds no validation)."""
    plan = step_plan(recipe)
    step = 0 if global_step == 0 else plan[global_step - 1].step
    settings = eval_settings(recipe)
    rows = []
    for key, value in data.items():
        match = PASS1.match(key)
        if not match:
            continue
        name, n = match["benchmark"], int(match["n"])
        spec = spec_of(name, settings.benchmarks.get(name))
        count = questions.get(name)
        timeout_share = data.get(TIMEOUTS.format(benchmark=name, n=n))
        row = {
            "step": step, "benchmark": name, "n_questions": count, "k": n, "pass@1": float(value),
            "pass@k": {"1": float(value)}, "accuracy": float(value), "mean_length": None, "truncated_rate": None,
            "timeouts": round(float(timeout_share) * count * n) if timeout_share is not None and count else None,
            "grading_rules_version": RULES_VERSION, "spec_version": spec.version if spec else None,
            "mode": settings.mode, "seconds": None,
        }
        rows.append({k: row[k] for k in VAL_KEYS})
    return rows


def convert_validation(run_dir: str | Path, recipe: Recipe) -> int:
    """Rewrite `<run>/val.jsonl` from verl's logs (atomic); returns the number of rows."""
    paths = VerlPaths.for_run(run_dir)
    questions = questions_per_benchmark(paths.val_parquet)
    by_key: dict[tuple[int, str], dict[str, Any]] = {}
    for entry in log_entries(paths):
        if 0 <= int(entry["step"]) <= len(step_plan(recipe)):
            for row in val_rows(int(entry["step"]), entry.get("data") or {}, recipe, questions):
                by_key[(row["step"], row["benchmark"])] = row
    if not by_key:
        return 0
    order = list(eval_settings(recipe).benchmarks)
    rows = sorted(by_key.values(), key=lambda r: (r["step"], order.index(r["benchmark"]) if r["benchmark"] in order
                                                  else len(order)))
    write_text_atomic(RunFolder(run_dir).val_path, "".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)
