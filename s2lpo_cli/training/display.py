"""The live view of a training run on stderr: a progress bar over the optimizer steps (on a terminal)
and one line of key metrics per step."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from s2lpo_cli.console import err, progress_enabled


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def step_line(m: dict[str, Any], total_steps: int) -> str:
    phase = "" if m["phase"] == "mixed" else f" {m['phase']}"
    return (
        f"step {m['step']:>3}/{total_steps}{phase}  alpha {m['alpha']:.2f}  G_w {m['g_w']:>2} G_s {m['g_s']:>2}  "
        f"reward [bold]{m['reward_mean']:.3f}[/] (explorer {_fmt(m['reward_explorer'])}, "
        f"target {_fmt(m['reward_target'])})  zero-var {m['zero_var_frac']:.2f}  clip {m['clip_frac']:.3f}  "
        f"kl {_fmt(m['kl'], '.4f')}  entropy {m['entropy']:.3f}  len {m['response_len']:.1f}  "
        f"loss {m['loss']:+.4f}  |g| {m['grad_norm']:.3f}  {m['step_time_s']:.1f}s"
    )


class TrainingDisplay:
    """Context manager; `show(metrics)` after each physical step."""

    def __init__(self, total_physical: int, done: int, total_steps: int, enabled: bool = True):
        self.total_steps, self.enabled = total_steps, enabled
        self.progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=err, disable=not (enabled and progress_enabled()),
        )
        self.task = self.progress.add_task("", total=total_physical, completed=done)

    def __enter__(self) -> TrainingDisplay:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def show(self, m: dict[str, Any]) -> None:
        if not self.enabled:
            return
        err.print(step_line(m, self.total_steps), highlight=False, soft_wrap=True)
        self.progress.update(self.task, advance=1, description=f"reward {m['reward_mean']:.3f}")
