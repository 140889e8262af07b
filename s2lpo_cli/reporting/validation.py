"""Validation curves for the report: each run's val.jsonl, on the step axis and the target-token axis,
and how soon each arm reaches a stated Pass@1.

An arm's curve is the mean of its seeds at the steps every seed validated, with their standard deviation.
"Reaches" compares that mean with the accuracy asked for (`--reach`); by default, per benchmark, the final
validation Pass@1 of the baseline's arm: how soon each arm gets where the baseline ended.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.validation import read_rows
from s2lpo_cli.reporting.arms import mean_sd
from s2lpo_cli.run_folder import RunFolder


def load_validation(folder: Path) -> dict[str, dict[int, float]]:
    """{benchmark: {step: Pass@1}} from the run's val.jsonl (empty without one); a torn last line is ignored."""
    out: dict[str, dict[int, float]] = {}
    path = RunFolder(folder).val_path
    for n, row in enumerate(read_rows(path), 1):
        if not isinstance(row, dict) or not isinstance(row.get("step"), int) or not isinstance(row.get("pass@1"), int | float):
            raise UserError(f"{path}:{n}: a val.jsonl row needs an integer step and a numeric pass@1 (got {row!r})"[:300])
        out.setdefault(str(row["benchmark"]), {})[row["step"]] = float(row["pass@1"])
    return {bench: dict(sorted(points.items())) for bench, points in out.items()}


def cumulative_tokens(steps: list[dict[str, Any]]) -> dict[int, int]:
    """{logical step: target tokens generated through it}, with 0 at step 0; None counts as 0."""
    total, out = 0, {0: 0}
    for s in steps:
        total += s.get("target_tokens") or 0
        out[s["step"]] = total
    return out


def run_curves(validation: dict[str, dict[int, float]], steps: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """report.json's per-run curves: {benchmark: [{step, pass@1, target_tokens}]}."""
    tokens = cumulative_tokens(steps)
    return {bench: [{"step": t, "pass@1": p, "target_tokens": tokens.get(t)} for t, p in points.items()]
            for bench, points in validation.items()}


def arm_curve(curves: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The seeds' mean and sd at the steps every seed validated (tokens: their mean where all have them)."""
    by_step = [{p["step"]: p for p in c} for c in curves]
    common = sorted(set.intersection(*(set(s) for s in by_step)))
    out = []
    for t in common:
        mean, sd = mean_sd([s[t]["pass@1"] for s in by_step])
        toks = [s[t]["target_tokens"] for s in by_step]
        out.append({"step": t, "mean": mean, "sd": sd,
                    "target_tokens": sum(toks) / len(toks) if all(v is not None for v in toks) else None})
    return out


def arm_curves(runs: list[dict[str, Any]], arms: dict[str, list[str]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{benchmark: {arm: curve}} for every arm with validation rows."""
    by_name = {r["name"]: r for r in runs}
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for arm, names in arms.items():
        benches = {b for n in names for b in by_name[n]["validation"]}
        for bench in sorted(benches):
            curves = [by_name[n]["validation"].get(bench) for n in names]
            if all(curves):
                out.setdefault(bench, {})[arm] = arm_curve(curves)
    return out


def first_reaching(curve: list[dict[str, Any]], accuracy: float) -> dict[str, Any] | None:
    """The first validated step whose mean Pass@1 is at least `accuracy` (with its target tokens), or None."""
    for point in curve:
        if point["mean"] >= accuracy - 1e-12:
            return {"step": point["step"], "target_tokens": point["target_tokens"]}
    return None


def reach_table(curves: dict[str, dict[str, list[dict[str, Any]]]], base_arm: str | None,
                reach: float | None) -> dict[str, dict[str, Any]]:
    """{benchmark: {"accuracy": target, "source": why, "arms": {arm: first point or None}}}."""
    out = {}
    for bench, arms in curves.items():
        if reach is not None:
            target, source = reach, "--reach"
        elif base_arm in arms and arms[base_arm]:
            target, source = arms[base_arm][-1]["mean"], f"final Pass@1 of {base_arm}"
        else:
            continue
        out[bench] = {"accuracy": target, "source": source,
                      "arms": {arm: first_reaching(curve, target) for arm, curve in arms.items()}}
    return out


def arm_of(run_name: str, arms: dict[str, list[str]]) -> str | None:
    return next((arm for arm, names in arms.items() if run_name in names), None)
