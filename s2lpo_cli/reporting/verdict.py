"""The three lines report.md opens with, computed from the numbers: which arm has the higher final target
reward, which the higher held-out accuracy (checkpoint scores, else the last validation, else a benchmark), by how much, and whether that exceeds the seeds' spread
(the difference against the larger of the two arms' standard deviations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s2lpo_cli.reporting.arms import mean_sd

Stats = dict[str, tuple[float, float | None, int]]  # arm -> (mean, sd, runs)


def _stats(arms: dict[str, list[dict[str, Any]]], value: Callable[[dict[str, Any]], float | None]) -> Stats:
    out = {}
    for arm, runs in arms.items():
        values = [v for v in map(value, runs) if v is not None]
        if values:
            out[arm] = (*mean_sd(values), len(values))
    return out


def final_target(run: dict[str, Any]) -> float | None:
    return (run["training"] or {}).get("final_target_reward")


def last_checkpoint(run: dict[str, Any]) -> float | None:
    scores = run["heldout_by_checkpoint"]
    return scores[max(scores, key=int)] if scores else None


def last_validation(bench: str) -> Callable[[dict[str, Any]], float | None]:
    """A run's Pass@1 on `bench` at its last validation during training (val.jsonl)."""
    def value(run: dict[str, Any]) -> float | None:
        points = run["validation"].get(bench)
        return points[-1]["pass@1"] if points else None

    return value


def _ranked(stats: Stats) -> list[tuple[str, tuple[float, float | None, int]]]:
    return sorted(stats.items(), key=lambda kv: -kv[1][0])


def compare_line(label: str, stats: Stats, fmt: Callable[[float], str], diff: Callable[[float], str]) -> str:
    if not stats:
        return f"{label}: no run has one."
    ranked = _ranked(stats)
    listed = ", ".join(f"{arm} {fmt(m)}" + (f" (mean of {n})" if n > 1 else "") for arm, (m, _, n) in ranked)
    if len(ranked) == 1:
        return f"{label}: only {listed}."
    (top, (m1, _, _)), (second, (m2, _, _)) = ranked[0], ranked[1]
    return f"{label}: {listed}; {top} is higher than {second} by {diff(m1 - m2)}."


def spread_clause(label: str, stats: Stats, diff: Callable[[float], str]) -> str | None:
    ranked = _ranked(stats)
    if len(ranked) < 2 or ranked[0][1][1] is None or ranked[1][1][1] is None:
        return None
    (a1, (m1, sd1, _)), (a2, (m2, sd2, _)) = ranked[0], ranked[1]
    relation = "exceeds" if m1 - m2 > max(sd1, sd2) else "does not exceed"
    return (f"the {label} difference ({diff(m1 - m2)}) {relation} the seeds' spread "
            f"(sd {a1} {diff(sd1)}, {a2} {diff(sd2)})")


def verdict(data: dict[str, Any]) -> list[str]:
    runs = {r["name"]: r for r in data["runs"]}
    arms = {arm: [runs[n] for n in names] for arm, names in data["arms"].items()}
    reward = _stats(arms, final_target)
    ks = sorted({r["training"]["final_k"] for r in data["runs"] if r["training"]}) or [0]
    k = str(ks[0]) if len(ks) == 1 else f"{ks[0]}-{ks[-1]}"
    lines = [compare_line(f"Final target reward (mean of the last {k} steps with target responses)", reward,
                          lambda v: f"{v:.3f}", lambda d: f"{d:.3f}")]
    heldout = _stats(arms, last_checkpoint)
    held_label = "Held-out accuracy (last checkpoint)"
    validated = next(iter(data["validation"]["curves"]), None)
    if not heldout and validated is not None:
        heldout = _stats(arms, last_validation(validated))
        held_label = f"{validated} Pass@1 (last validation)"
    if not heldout and data["benchmarks"]:
        bench = data["benchmarks"][0]
        heldout = _stats(arms, lambda r: (r["benchmarks"].get(bench) or {}).get("pass@1"))
        held_label = f"{bench} Pass@1"
    lines.append(compare_line(held_label, heldout, lambda v: f"{100 * v:.1f}%", lambda d: f"{100 * d:.1f} pt"))
    clauses = [c for c in (spread_clause("reward", reward, lambda d: f"{d:.3f}"),
                           spread_clause("held-out", heldout, lambda d: f"{100 * d:.1f} pt")) if c]
    if clauses:
        lines.append("Seeds: " + "; ".join(clauses) + ".")
    else:
        lines.append("Seeds: fewer than two runs per arm, so no seed spread to judge these differences against.")
    return lines
