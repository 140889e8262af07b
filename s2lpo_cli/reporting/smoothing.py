"""Rolling means and the target-only headline numbers of a training run.

A run's headline is the target's own reward (`reward_target`): on a step where every response came from
the explorer (G_s = 0) there is none, so such a step never gives a headline value.
"""

from __future__ import annotations

from typing import Any

FINAL_LAST_K = 10  # final = mean of the last k steps that have target responses
SMOOTH_ABOVE_STEPS = 30  # longer series are smoothed (plots, "best")
SMOOTH_WINDOW = 10


def smoothing_window(n_points: int) -> int:
    """The rolling-mean window for a series of n points: 1 (raw values) for short ones."""
    return SMOOTH_WINDOW if n_points > SMOOTH_ABOVE_STEPS else 1


def rolling_mean(values: list[float], window: int) -> list[float]:
    """Trailing mean over the last `window` values (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def target_points(steps: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(step, target reward) of the steps that had target responses."""
    return [(s["step"], s["reward_target"]) for s in steps
            if s.get("reward_target") is not None and (s.get("g_s") is None or s["g_s"] > 0)]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def headline(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Final (mean of the last k target steps) and best (highest rolling mean over a full window, at the
    window's last step) target reward; the all-responses reward and the explorer part over the same last steps, labelled."""
    points = target_points(steps)
    k = min(FINAL_LAST_K, len(points))
    window = smoothing_window(len(points))
    smoothed = rolling_mean([v for _, v in points], window)
    full = range(max(min(window, len(points)) - 1, 0), len(points))  # a window not yet full is one noisy point
    best = max(full, key=lambda i: smoothed[i], default=None)
    last = steps[-k:] if k else []
    explorer = [s["reward_explorer"] for s in steps if s.get("reward_explorer") is not None and (s.get("g_w") or 0) > 0]
    return {
        "final_target_reward": _mean([v for _, v in points[-k:]]),
        "final_k": k,
        "best_target_reward": None if best is None else smoothed[best],
        "best_target_step": None if best is None else points[best][0],
        "smoothing_window": window,
        "target_steps": len(points),
        "final_reward_all_responses": _mean([s["reward_mean"] for s in last if s.get("reward_mean") is not None]),
        "explorer_reward_mean": _mean(explorer),
        "explorer_steps": len(explorer),
    }
