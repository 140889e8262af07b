"""Arms: the runs of one configuration under several seeds, compared as one (mean and sd).

By default runs whose names differ only in their digits form an arm (`seed0`, `seed1`, `seed2` ->
`seed*`; `seed0_grpo`, `seed1_grpo` -> `seed*_grpo`); `--group NAME=RUN,RUN` names an arm by hand.
An arm of one run keeps the run's name.
"""

from __future__ import annotations

import re
import statistics

from s2lpo_cli.errors import UserError


def parse_groups(specs: list[str], names: list[str]) -> dict[str, list[str]]:
    """`--group NAME=RUN,RUN` options as {arm: runs}; each run named must be one of the report's."""
    groups: dict[str, list[str]] = {}
    for spec in specs:
        arm, sep, members = spec.partition("=")
        runs = [m.strip() for m in members.split(",") if m.strip()]
        if not sep or not arm.strip() or not runs:
            raise UserError(f"--group {spec!r}: expected NAME=RUN,RUN (e.g. --group s2lpo=seed0,seed1)")
        unknown = [r for r in runs if r not in names]
        if unknown:
            raise UserError(f"--group {spec!r}: no run named {', '.join(unknown)}; the runs are: {', '.join(names)}")
        groups[arm.strip()] = runs
    return groups


def group_runs(names: list[str], explicit: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """{arm: run names}, in the order the runs were given."""
    listed = {run for runs in (explicit or {}).values() for run in runs}
    arms: dict[str, list[str]] = dict(explicit or {})
    by_pattern: dict[str, list[str]] = {}
    for name in names:
        if name not in listed:
            by_pattern.setdefault(re.sub(r"\d+", "*", name), []).append(name)
    for pattern, runs in by_pattern.items():
        arms[pattern if len(runs) > 1 else runs[0]] = runs
    return arms


def mean_sd(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for one value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None
