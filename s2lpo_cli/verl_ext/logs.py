"""verl's file-logger lines of a run, every attempt in order.

verl's file logger writes `{"step": N, "data": {...}}` per logged step to `<run>/verl/metrics.jsonl` and
truncates it when it starts, so `command.sh` moves a resumed run's previous log aside as
`metrics.<time>.jsonl`. Reading the moved logs first, then the current one, a later attempt's line for a
step comes after an earlier attempt's: callers keep the last one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from s2lpo_cli.verl_ext.command import VerlPaths


def log_entries(paths: VerlPaths) -> Iterator[dict[str, Any]]:
    """Every complete line holding a step, oldest attempt first; the line a killed run was writing is skipped."""
    logs = sorted(paths.root.glob("metrics.*.jsonl")) + ([paths.metrics] if paths.metrics.is_file() else [])
    for log in logs:
        for line in log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # a blank line, or the line a killed run was writing
                continue
            if "step" in entry:
                yield entry
