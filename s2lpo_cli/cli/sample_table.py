"""The summary table `s2lpo sample` prints at the end."""

from __future__ import annotations

from rich.table import Table

from s2lpo_cli.sampling.summary import SampleSummary


def summary_table(summary: SampleSummary, store: str) -> Table:
    table = Table(title=f"Explorer rollouts in {store}")
    for name in ("prompts", "responses", "mean reward", "all right", "all wrong", "truncated", "mean tokens"):
        table.add_column(name, justify="right")
    table.add_row(
        str(summary.prompts),
        str(summary.responses),
        f"{summary.mean_reward:.3f}",
        f"{summary.all_right:.1%}",
        f"{summary.all_wrong:.1%}",
        f"{summary.truncation_rate:.1%}",
        f"{summary.mean_response_tokens:.1f}",
    )
    return table
