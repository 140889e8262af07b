"""Evaluation results as `s2lpo eval` lays them out, found anywhere under a folder.

`result/<Model>_<TIMESTAMP>/summary.json` holds every finished benchmark; `<bench>.json` beside it is
written as each benchmark finishes, so an evaluation still going has some of them and no summary yet.
`output/<Model>_<TIMESTAMP>/config.txt` names the benchmarks asked for; `<bench>_raw.jsonl` there without a
result means that benchmark is under way.
When a folder holds several evaluations, the newest result of each benchmark wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2lpo_cli.errors import UserError

SUMMARY = "summary.json"
CONFIG = "config.txt"


@dataclass(frozen=True)
class BenchResult:
    name: str
    model: str
    n_questions: int | None
    k: int | None
    pass1: float | None
    pass_at: dict[int, float]
    accuracy: float | None
    mean_length: float | None
    truncated_rate: float | None
    timeouts: int | None
    source: Path
    grading_rules_version: int | None = None  # None: written before versions were recorded
    spec_version: int | None = None  # the benchmark spec's; None also for a --benchmark-file

    @property
    def pass_k(self) -> float | None:
        """Pass@k at the largest k measured."""
        return self.pass_at[max(self.pass_at)] if self.pass_at else None

    @property
    def max_k(self) -> int | None:
        return max(self.pass_at) if self.pass_at else self.k


@dataclass
class EvalResults:
    benchmarks: dict[str, BenchResult]
    in_progress: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None


def _number(entry: dict, key: str, where: Path, name: str) -> Any:
    value = entry.get(key)
    if value is not None and not isinstance(value, int | float):
        raise UserError(f"{where}: benchmarks.{name}.{key} must be a number, got {value!r}")
    return value


def bench_result(name: str, entry: Any, model: str, where: Path) -> BenchResult:
    """One benchmark entry of summary.json (the same shape as `<bench>.json`)."""
    if not isinstance(entry, dict):
        raise UserError(f"{where}: benchmarks.{name} must be an object with pass@1, pass@k, accuracy")
    raw_at = entry.get("pass@k") or {}
    if not isinstance(raw_at, dict):
        raise UserError(f"{where}: benchmarks.{name}.pass@k must map k to a fraction, e.g. {{\"1\": 0.5}}")
    try:
        pass_at = {int(k): float(v) for k, v in raw_at.items()}
    except (TypeError, ValueError):
        raise UserError(f"{where}: benchmarks.{name}.pass@k must map integer k to a fraction, got {raw_at!r}") from None
    return BenchResult(
        name=name,
        model=model,
        n_questions=_number(entry, "n_questions", where, name),
        k=_number(entry, "k", where, name),
        pass1=_number(entry, "pass@1", where, name),
        pass_at=dict(sorted(pass_at.items())),
        accuracy=_number(entry, "accuracy", where, name),
        mean_length=_number(entry, "mean_length", where, name),
        truncated_rate=_number(entry, "truncated_rate", where, name),
        timeouts=_number(entry, "timeouts", where, name),
        source=where,
        grading_rules_version=_number(entry, "grading_rules_version", where, name),
        spec_version=_number(entry, "spec_version", where, name),
    )


@dataclass(frozen=True)
class EvalRun:
    """One `s2lpo eval` invocation: ROOT/output/NAME and ROOT/result/NAME."""

    root: Path
    name: str

    @property
    def result(self) -> Path:
        return self.root / "result" / self.name

    @property
    def output(self) -> Path:
        return self.root / "output" / self.name

    def files(self) -> list[Path]:
        return [*self.result.glob("*.json"), *self.output.glob(CONFIG)]

    def requested(self) -> list[str]:
        """The benchmarks this evaluation was asked for (config.txt), when it says."""
        try:
            config = json.loads((self.output / CONFIG).read_text(encoding="utf-8"))
            return list(config["settings"]["benchmarks"])
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def started(self) -> list[str]:
        return sorted(p.name.removesuffix("_raw.jsonl") for p in self.output.glob("*_raw.jsonl"))


def eval_runs(root: Path) -> list[EvalRun]:
    """Every evaluation under root (root may also be a result/ or output/ folder or one run's), oldest first."""
    found = {EvalRun(p.parent.parent.parent, p.parent.name) for p in root.rglob("*.json") if p.parent.parent.name == "result"}
    found |= {EvalRun(p.parent.parent.parent, p.parent.name) for p in root.rglob(CONFIG) if p.parent.parent.name == "output"}
    return sorted(found, key=lambda run: (max(f.stat().st_mtime for f in run.files()), run.name))


def _results_of(run: EvalRun) -> tuple[str, dict[str, BenchResult]]:
    model = run.name
    found: dict[str, BenchResult] = {}
    summary_path = run.result / SUMMARY
    if summary_path.is_file():
        summary = _read_json(summary_path)
        if not isinstance(summary, dict) or not isinstance(summary.get("benchmarks"), dict):
            raise UserError(f"{summary_path}: expected {{\"model\": ..., \"benchmarks\": {{NAME: {{...}}}}}}")
        model = str(summary.get("model") or model)
        for name, entry in summary["benchmarks"].items():
            found[name] = bench_result(name, entry, model, summary_path)
    for bench_path in sorted(run.result.glob("*.json")):
        name = bench_path.stem
        if bench_path.name == SUMMARY or name in found:
            continue
        entry = _read_json(bench_path)
        if isinstance(entry, dict) and isinstance(entry.get("benchmarks"), dict) and name in entry["benchmarks"]:
            entry = entry["benchmarks"][name]
        found[name] = bench_result(name, entry, model, bench_path)
    return model, found


def load_eval_results(root: Path) -> EvalResults | None:
    """All evaluations under root, newest result per benchmark; None when there are none."""
    runs = eval_runs(root)
    if not runs:
        return None
    results = EvalResults(benchmarks={})
    for run in runs:
        model, found = _results_of(run)
        if model not in results.models:
            results.models.append(model)
        results.benchmarks.update(found)
    started = {b for run in runs for b in run.started()}
    for run in runs:
        for bench in [*run.requested(), *run.started()]:
            if bench not in results.benchmarks and bench not in results.in_progress:
                results.in_progress.append(bench)
    if len(results.models) > 1:
        results.notes.append(f"several evaluations ({', '.join(results.models)}); the newest result of each benchmark is shown")
    for name in results.in_progress:
        state = "generation started" if name in started else "not started"
        results.notes.append(f"{name}: no result yet ({state})")
    return results
