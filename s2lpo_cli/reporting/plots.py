"""PNG plots of a report (matplotlib, Agg backend: no display needed). Each returns its file, or None
when no run has the data it shows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from s2lpo_cli.reporting.arms import mean_sd
from s2lpo_cli.reporting.smoothing import rolling_mean, smoothing_window


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _trained(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in data["runs"] if r["training"] and r["training"]["steps"]]


# A part of a group is drawn only on the steps that had responses of that kind.
_ONLY_WHERE = {"reward_explorer": "g_w", "reward_target": "g_s"}


def _series(run: dict[str, Any], key: str) -> tuple[list[int], list[float]]:
    gate = _ONLY_WHERE.get(key)
    pts = [(s["step"], s[key]) for s in run["training"]["steps"]
           if s.get(key) is not None and (gate is None or s.get(gate) is None or s[gate] > 0)]
    return [p[0] for p in pts], [p[1] for p in pts]


def _draw(ax, x: list[int], y: list[float], color: str, label: str, style: str = "-") -> None:
    """A long series: its rolling mean (window in the legend) over faint raw points; a short one as is."""
    window = smoothing_window(len(x))
    if window == 1:
        ax.plot(x, y, style, marker="o", color=color, markersize=4, label=label)
        return
    ax.plot(x, y, "o", color=color, markersize=2, alpha=0.2)
    ax.plot(x, rolling_mean(y, window), style, color=color, linewidth=1.8, label=f"{label} (rolling mean, {window} steps)")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def _step_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)


def _legend(ax) -> None:
    """Below the axes: it never hides a curve, and placing it costs nothing on long runs."""
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)


def _color(i: int) -> str:
    return f"C{i % 10}"


def reward_plot(data: dict[str, Any], path: Path) -> Path | None:
    runs = _trained(data)
    if not any(_series(r, "reward_mean")[0] for r in runs):
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, r in enumerate(runs):
        # without explorer responses, all responses are the target part: drawn once
        all_is_target = not _series(r, "reward_explorer")[0] and bool(_series(r, "reward_target")[0])
        for key, style, label in (("reward_target", "-", "target part"), ("reward_explorer", "--", "explorer part"),
                                  ("reward_mean", ":", "all responses")):
            x, y = _series(r, key)
            if x and not (key == "reward_mean" and all_is_target):
                _draw(ax, x, y, _color(i), f"{r['name']}: {label}", style)
    ax.set(ylabel="mean reward", title="Reward per step: the target's own, the explorer's (where G_w > 0), all")
    _step_axis(ax)
    _legend(ax)
    return _save(fig, path)


def schedule_plot(data: dict[str, Any], path: Path) -> Path | None:
    runs = [r for r in data["runs"] if r["training"] and (r["training"]["planned"] or r["training"]["steps"])]
    if not runs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for i, r in enumerate(runs):
        t = r["training"]
        points = t["planned"] or [s for s in t["steps"] if s["g_w"] is not None]
        x = [p["step"] for p in points]
        ax.step(x, [p["g_w"] for p in points], where="mid", color=_color(i), label=f"{r['name']}: G_w (explorer)")
        ax.step(x, [p["g_s"] for p in points], where="mid", color=_color(i), linestyle=":", label=f"{r['name']}: G_s (target)")
    ax.set(ylabel="responses per group", title="Schedule: explorer (G_w) and target (G_s) responses")
    _step_axis(ax)
    _legend(ax)
    return _save(fig, path)


def per_step_plot(data: dict[str, Any], path: Path, keys: list[tuple[str, str]], title: str) -> Path | None:
    """One panel per metric key (key, y label); a panel no run logged says so."""
    runs = _trained(data)
    if not any(_series(r, key)[0] for r in runs for key, _ in keys):
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4), squeeze=False)
    for ax, (key, label) in zip(axes[0], keys, strict=True):
        drawn = False
        for i, r in enumerate(runs):
            x, y = _series(r, key)
            if x:
                _draw(ax, x, y, _color(i), r["name"])
                drawn = True
        if not drawn:
            ax.text(0.5, 0.5, f"{key} not logged", ha="center", va="center", transform=ax.transAxes)
        ax.set(ylabel=label)
        _step_axis(ax)
        if drawn:
            _legend(ax)
    fig.suptitle(title)
    return _save(fig, path)


def target_tokens_plot(data: dict[str, Any], path: Path) -> Path | None:
    runs = [r for r in _trained(data) if _series(r, "target_tokens")[0]]
    if not runs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for i, r in enumerate(runs):
        x, y = _series(r, "target_tokens")
        total, cumulative = 0, []
        for v in y:
            total += v
            cumulative.append(total)
        ax.plot(x, cumulative, "-o", color=_color(i), markersize=4, label=r["name"])
    ax.set(ylabel="tokens", title="Tokens generated by the target (cumulative): the rollout compute")
    _step_axis(ax)
    _legend(ax)
    return _save(fig, path)


def passk_plot(data: dict[str, Any], bench: str, path: Path) -> Path | None:
    rows = [(r["name"], r["benchmarks"].get(bench)) for r in data["runs"]]
    rows = [(name, b) for name, b in rows if b and b["pass_at"]]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, (name, b) in enumerate(rows):
        ks = sorted(int(k) for k in b["pass_at"])
        ax.plot(ks, [100 * b["pass_at"][str(k)] for k in ks], "-o", color=_color(i), markersize=4, label=name)
    ax.set_xscale("log", base=2)
    all_ks = sorted({int(k) for _, b in rows for k in b["pass_at"]})
    ax.set_xticks(all_ks, [str(k) for k in all_ks])
    ax.set(xlabel="k", ylabel="Pass@k (%)", title=f"{bench}: Pass@k")
    ax.grid(alpha=0.3)
    _legend(ax)
    return _save(fig, path)


def checkpoint_plot(data: dict[str, Any], path: Path) -> Path | None:
    """Held-out accuracy per checkpoint, one line per arm: the mean of its seeds, with a +-1 sd band."""
    by_name = {r["name"]: r for r in data["runs"]}
    arms = {arm: [by_name[n]["heldout_by_checkpoint"] for n in names] for arm, names in data["arms"].items()}
    arms = {arm: [s for s in scores if s] for arm, scores in arms.items()}
    arms = {arm: scores for arm, scores in arms.items() if scores}
    if not arms:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, (arm, scores) in enumerate(arms.items()):
        steps = sorted(set.intersection(*(set(s) for s in scores)), key=int)  # checkpoints every seed has
        stats = [mean_sd([100 * s[step] for s in scores]) for step in steps]
        x, mean = [int(step) for step in steps], [m for m, _ in stats]
        label = arm if len(scores) == 1 else f"{arm} (mean of {len(scores)} seeds, band: ±1 sd)"
        ax.plot(x, mean, "-o", color=_color(i), markersize=4, label=label)
        if len(scores) > 1:
            ax.fill_between(x, [m - sd for m, sd in stats], [m + sd for m, sd in stats], color=_color(i), alpha=0.2)
    ax.set(ylabel="held-out accuracy (%)", title="Held-out accuracy per checkpoint")
    _step_axis(ax)
    _legend(ax)
    return _save(fig, path)


def validation_plot(data: dict[str, Any], path: Path) -> Path | None:
    """Per benchmark: validation Pass@1 against the step and against the target's cumulative tokens, per arm
    (mean of its seeds, +-1 sd band)."""
    curves = data["validation"]["curves"]
    if not curves:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(len(curves), 2, figsize=(12, 4 * len(curves)), squeeze=False)
    arm_names = list(data["arms"])
    for (ax_step, ax_tokens), (bench, arms) in zip(axes, curves.items(), strict=True):
        for arm, curve in arms.items():
            color = _color(arm_names.index(arm))
            seeds = len(data["arms"][arm])
            label = arm if seeds == 1 else f"{arm} (mean of {seeds} seeds, band: ±1 sd)"
            for ax, key in ((ax_step, "step"), (ax_tokens, "target_tokens")):
                points = [p for p in curve if p[key] is not None]
                x, mean = [p[key] for p in points], [100 * p["mean"] for p in points]
                ax.plot(x, mean, "-o", color=color, markersize=4, label=label)
                if seeds > 1:
                    sd = [100 * (p["sd"] or 0.0) for p in points]
                    ax.fill_between(x, [m - s for m, s in zip(mean, sd, strict=True)],
                                    [m + s for m, s in zip(mean, sd, strict=True)], color=color, alpha=0.2)
        ax_step.set(ylabel=f"{bench}: Pass@1 (%)", title=f"{bench}: validation Pass@1 per step")
        _step_axis(ax_step)
        ax_tokens.set(xlabel="target tokens generated (cumulative)", ylabel=f"{bench}: Pass@1 (%)",
                      title=f"{bench}: validation Pass@1 against the target's rollout tokens")
        ax_tokens.grid(alpha=0.3)
        for ax in (ax_step, ax_tokens):
            _legend(ax)
    return _save(fig, path)


def all_plots(data: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Every plot the data allows, named by what it shows."""
    made = {
        "reward": reward_plot(data, out_dir / "reward.png"),
        "schedule": schedule_plot(data, out_dir / "schedule.png"),
        "response_length": per_step_plot(data, out_dir / "response_length.png", [("response_len", "tokens")],
                                         "Mean response length per step"),
        "kl_entropy": per_step_plot(data, out_dir / "kl_entropy.png", [("kl", "KL to the initial model"),
                                                                        ("entropy", "entropy (nats/token)")],
                                    "KL and entropy per step"),
        "target_tokens": target_tokens_plot(data, out_dir / "target_tokens.png"),
        "heldout_checkpoints": checkpoint_plot(data, out_dir / "heldout_checkpoints.png"),
        "validation": validation_plot(data, out_dir / "validation.png"),
    }
    for bench in data["benchmarks"]:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", bench)
        made[f"passk_{bench}"] = passk_plot(data, bench, out_dir / f"passk_{safe}.png")
    return {name: path for name, path in made.items() if path is not None}
