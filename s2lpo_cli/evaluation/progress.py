"""Progress reporting for an evaluation: a rich bar on stderr when it is a terminal, else nothing."""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    def begin(self, label: str, total: int, done: int = 0) -> None: ...

    def advance(self, n: int) -> None: ...

    def note(self, message: str) -> None: ...


class NoProgress:
    def begin(self, label: str, total: int, done: int = 0) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class RichProgress:
    """One bar per phase (generation, grading) of each benchmark. Use as a context manager."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from s2lpo_cli.console import err, progress_enabled

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), console=err, disable=not progress_enabled(),
        )
        self._task = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def begin(self, label: str, total: int, done: int = 0) -> None:
        self._task = self._progress.add_task(label, total=total, completed=done)

    def advance(self, n: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def note(self, message: str) -> None:
        from rich.text import Text

        self._progress.console.print(Text(message, style="yellow"))
