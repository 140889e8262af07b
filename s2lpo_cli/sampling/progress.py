"""Progress of a sampling run: prompts done, responses/s and tokens/s (a live bar on a terminal, lines otherwise)."""

from __future__ import annotations

import time
from typing import Any

from s2lpo_cli.sampling.runner import ShardDone


class SamplingProgress:
    def __init__(self, console: Any, live: bool):
        self.console = console
        self.live = live
        self.bar: Any = None
        self.task: Any = None
        self.total = self.done = self.responses = self.tokens = 0
        self.started = time.monotonic()

    def __enter__(self) -> SamplingProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()

    def start(self, total: int, done: int) -> None:
        self.total, self.done = total, done
        self.started = time.monotonic()
        if done:
            self.console.print(f"resuming: {done}/{total} prompts already sampled")
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]sampling[/] prompts"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rps]:.1f} responses/s"),
                TextColumn("{task.fields[tps]:.0f} tokens/s"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task("sample", total=total, completed=done, rps=0.0, tps=0.0)

    def shard(self, done: ShardDone) -> None:
        self.done += done.prompts
        self.responses += done.responses
        self.tokens += done.tokens
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rps, tps = self.responses / elapsed, self.tokens / elapsed
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, rps=rps, tps=tps)
        else:
            self.console.print(f"prompts {self.done}/{self.total}  {rps:.1f} responses/s  {tps:.0f} tokens/s")
