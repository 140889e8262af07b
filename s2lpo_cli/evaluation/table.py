"""The results table `s2lpo eval` prints: one row per benchmark."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def results_table(summary: dict[str, Any]) -> Table:
    benchmarks = summary["benchmarks"]
    ks = sorted({int(k) for entry in benchmarks.values() for k in entry["pass@k"]} - {1})
    mode = f", {summary['mode']}" if summary.get("mode") else ""
    table = Table(
        title=f"{summary['model']}{mode}",
        caption="n questions; Pass@k and acc (share of all responses correct) in %; len: mean response tokens; "
        "trunc: % cut at --max-tokens; t/o: grading timeouts",
    )
    table.add_column("benchmark", no_wrap=True)
    table.add_column("n", justify="right")
    table.add_column("Pass@1", justify="right")
    for k in ks:
        table.add_column(f"Pass@{k}", justify="right")
    for column in ("acc", "len", "trunc", "t/o"):
        table.add_column(column, justify="right")
    for name, entry in benchmarks.items():
        at = entry["pass@k"]
        table.add_row(
            name, str(entry["n_questions"]), _pct(entry["pass@1"]),
            *(_pct(at[str(k)]) if str(k) in at else "-" for k in ks),
            _pct(entry["accuracy"]), f"{entry['mean_length']:.0f}", _pct(entry["truncated_rate"]), str(entry["timeouts"]),
        )
    return table
