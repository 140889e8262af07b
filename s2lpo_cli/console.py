"""The shared consoles, used by the CLI and the library alike: results to stdout, progress and logs to stderr."""

from __future__ import annotations

import os
import sys

from rich.console import Console

out = Console()  # results (tables, JSON): stdout
err = Console(stderr=True)  # progress, logs, errors: stderr


def debug_enabled() -> bool:
    return os.environ.get("S2LPO_DEBUG", "") not in ("", "0")


def progress_enabled() -> bool:
    """Live progress only when stderr is a terminal (no bars in logs or CI)."""
    return sys.stderr.isatty()
