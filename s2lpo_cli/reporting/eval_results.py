"""Evaluation results as `s2lpo eval` lays them out, found anywhere under a folder.

`result/<Model>_<TIMESTAMP>/summary.json` holds every finished benchmark; `<bench>.json` beside it is
written as each benchmark finishes, so an evaluation still going has some of them and no summary yet.
`output/<Model>_<TIMESTAMP>/<bench>_raw.jsonl` without a result means that benchmark is under way.
When a folder holds several evaluations, the newest result of each benchmark wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2lpo_cli.errors import UserError

SUMMARY = "summary.json"


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
    )


def result_dirs(root: Path) -> list[Path]:
    """Every `result/<Model>_<TIMESTAMP>/` under root (root itself included), oldest first."""
    found = {p.parent for p in root.rglob("*.json") if p.parent.parent.name == "result"}
    return sorted(found, key=lambda d: (max(f.stat().st_mtime for f in d.glob("*.json")), d.name))


def _results_of(directory: Path) -> tuple[str, dict[str, BenchResult]]:
    model = directory.name
    found: dict[str, BenchResult] = {}
    summary_path = directory / SUMMARY
    if summary_path.is_file():
        summary = _read_json(summary_path)
        if not isinstance(summary, dict) or not isinstance(summary.get("benchmarks"), dict):
            raise UserError(f"{summary_path}: expected {{\"model\": ..., \"benchmarks\": {{NAME: {{...}}}}}}")
        model = str(summary.get("model") or model)
        for name, entry in summary["benchmarks"].items():
            found[name] = bench_result(name, entry, model, summary_path)
    for bench_path in sorted(directory.glob("*.json")):
        name = bench_path.stem
        if bench_path.name == SUMMARY or name in found:
            continue
        entry = _read_json(bench_path)
        if isinstance(entry, dict) and isinstance(entry.get("benchmarks"), dict) and name in entry["benchmarks"]:
            entry = entry["benchmarks"][name]
        found[name] = bench_result(name, entry, model, bench_path)
    return model, found


def _in_progress(directory: Path, done: set[str]) -> list[str]:
    outputs = directory.parent.parent / "output" / directory.name
    raw = {p.name.removesuffix("_raw.jsonl") for p in outputs.glob("*_raw.jsonl")} if outputs.is_dir() else set()
    return sorted(raw - done)


def load_eval_results(root: Path) -> EvalResults | None:
    """All evaluations under root, newest result per benchmark; None when there are none."""
    dirs = result_dirs(root)
    if not dirs:
        return None
    results = EvalResults(benchmarks={})
    for directory in dirs:
        model, found = _results_of(directory)
        if model not in results.models:
            results.models.append(model)
        results.benchmarks.update(found)
    for directory in dirs:
        results.in_progress.extend(b for b in _in_progress(directory, set(results.benchmarks)) if b not in results.in_progress)
    if len(results.models) > 1:
        results.notes.append(f"several evaluations ({', '.join(results.models)}); the newest result of each benchmark is shown")
    for name in results.in_progress:
        results.notes.append(f"{name}: generation started (raw outputs present) but no result yet")
    return results
