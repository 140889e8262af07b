"""The numbers of a report, as one JSON-ready dict (written as report.json; tables and plots read it too)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from s2lpo_cli.reporting.arms import group_runs
from s2lpo_cli.reporting.eval_results import BenchResult
from s2lpo_cli.reporting.runs import Run
from s2lpo_cli.reporting.smoothing import headline
from s2lpo_cli.reporting.training_log import TrainingLog
from s2lpo_cli.reporting.validation import arm_curves, arm_of, reach_table, run_curves
from s2lpo_cli.reporting.verdict import verdict


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def training_summary(log: TrainingLog) -> dict[str, Any]:
    recipe = log.recipe or {}
    schedule, rollout = recipe.get("schedule") or {}, recipe.get("rollout") or {}
    steps = [asdict(s) for s in log.steps]
    tokens = [s.target_tokens for s in log.steps if s.target_tokens is not None]
    return {
        "status": log.status,
        "complete": log.complete,
        "steps_done": log.steps[-1].step if log.steps else 0,
        "total_steps": log.total_steps,
        "anneal_steps": schedule.get("anneal_steps"),
        "group_size": rollout.get("group_size"),
        "mode": schedule.get("mode"),
        "target": (recipe.get("models") or {}).get("target"),
        "explorer": (recipe.get("models") or {}).get("explorer"),
        **headline(steps),
        "target_tokens": sum(tokens) if tokens else None,
        "train_time_s": sum(s.step_time_s for s in log.steps if s.step_time_s is not None) or None,
        "steps": steps,
        "planned": [asdict(p) for p in log.planned],
    }


def _bench_row(result: BenchResult | None, base: BenchResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    k = result.max_k
    base_k = base.pass_at.get(k) if base is not None and k is not None else None
    return {
        "model": result.model,
        "n_questions": result.n_questions,
        "k": k,
        "pass@1": result.pass1,
        "pass@k": result.pass_k,
        "accuracy": result.accuracy,
        "mean_length": result.mean_length,
        "truncated_rate": result.truncated_rate,
        "timeouts": result.timeouts,
        "pass_at": {str(k): v for k, v in result.pass_at.items()},
        "delta_pass@1": _diff(result.pass1, base.pass1 if base else None),
        "delta_pass@k": _diff(result.pass_k, base_k),
        "delta_accuracy": _diff(result.accuracy, base.accuracy if base else None),
        "grading_rules_version": result.grading_rules_version,
        "spec_version": result.spec_version,
        "source": str(result.source),
    }


def _version(value: int | None) -> str:
    return "unrecorded" if value is None else str(value)


def version_warnings(runs: list[Run], benches: list[str]) -> list[str]:
    """One line per benchmark whose results were graded under different grading rules or benchmark spec
    versions: their numbers are not comparable until graded again (`s2lpo eval --responses`)."""
    warnings = []
    for bench in benches:
        versions = {
            run.name: (run.evals.benchmarks[bench].grading_rules_version, run.evals.benchmarks[bench].spec_version)
            for run in runs if run.evals and bench in run.evals.benchmarks
        }
        if len(set(versions.values())) > 1:
            listed = ", ".join(f"{name}: rules {_version(r)}, spec {_version(s)}" for name, (r, s) in versions.items())
            warnings.append(
                f"{bench}: results graded under different versions ({listed}); grade the older ones again with "
                f"`s2lpo eval --responses <eval>/output/<name>/{bench}_raw.jsonl`"
            )
    return warnings


def benchmark_names(runs: list[Run]) -> list[str]:
    names: list[str] = []
    for run in runs:
        for name in (run.evals.benchmarks if run.evals else {}):
            if name not in names:
                names.append(name)
    return names


def build_report_data(runs: list[Run], baseline: Run, groups: dict[str, list[str]] | None = None,
                      reach: float | None = None) -> dict[str, Any]:
    """Everything the report shows; a benchmark one run lacks and others have is listed as missing.
    groups: arms named by hand ({arm: run names}); the other runs are grouped by name (see arms.py).
    reach: the validation Pass@1 whose first step each arm reports (None: the baseline arm's final one)."""
    benches = benchmark_names(runs)
    base_results = baseline.evals.benchmarks if baseline.evals else {}
    out_runs = []
    for run in runs:
        results = run.evals.benchmarks if run.evals else {}
        missing = [b for b in benches if b not in results]
        notes = list(run.notes)
        in_progress = run.evals.in_progress if run.evals else []
        notes.extend(f"{b}: not evaluated (other runs have it)" for b in missing if b not in in_progress)
        out_runs.append(
            {
                "name": run.name,
                "path": str(run.path),
                "training": training_summary(run.training) if run.training else None,
                "benchmarks": {b: _bench_row(results.get(b), base_results.get(b)) for b in benches},
                "heldout_by_checkpoint": {str(step): acc for step, acc in run.checkpoint_scores.items()},
                "validation": run_curves(run.validation, [asdict(s) for s in run.training.steps] if run.training else []),
                "missing_benchmarks": missing,
                "notes": notes,
            }
        )
    data = {"baseline": baseline.name, "benchmarks": benches, "runs": out_runs,
            "arms": group_runs([r.name for r in runs], groups), "warnings": version_warnings(runs, benches)}
    curves = arm_curves(out_runs, data["arms"])
    data["validation"] = {"curves": curves, "reach": reach_table(curves, arm_of(baseline.name, data["arms"]), reach)}
    data["verdict"] = verdict(data)
    return data
