"""One line for a failed verl run: which of verl's Ray workers failed, and with what error.

verl prints the whole Ray traceback chain; the worker that failed is named in its last
`ray::Actor.method()` frame and the cause in the last `SomeError: message` line.
"""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WORKER = re.compile(r"ray::([\w.:]+)\(\)")
ERROR = re.compile(r"^(?:\(\w+ pid=\d+\)\s*)?([A-Za-z_][\w.]*(?:Error|Exception|Exit)): (.+)$")
RAY_WRAPPERS = ("ray.exceptions.", "RayTaskError", "ActorDiedError")


def failure_summary(log_text: str) -> str | None:
    """'<worker> failed: <Error>: <message>' from verl's output, or None when no error is in it."""
    lines = [ANSI.sub("", line).strip() for line in log_text.splitlines()]
    errors = [m for line in lines if (m := ERROR.match(line)) and not m.group(1).startswith(RAY_WRAPPERS)]
    if not errors:
        return None
    kind, message = errors[-1].group(1), errors[-1].group(2)
    workers = [w for line in lines for w in WORKER.findall(line)]
    where = f"verl worker {workers[-1]} failed" if workers else "verl failed"
    return f"{where}: {kind.rsplit('.', 1)[-1]}: {message[:300]}"
