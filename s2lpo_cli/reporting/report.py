"""Build a report from run folders: the numbers (report.json), the plots (PNG) and report.md."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.reporting.arms import parse_groups
from s2lpo_cli.reporting.plots import all_plots
from s2lpo_cli.reporting.runs import load_runs, pick_baseline
from s2lpo_cli.reporting.summary import build_report_data
from s2lpo_cli.reporting.tables import Grid, all_grids, to_markdown

PLOT_CAPTIONS = {
    "reward": "Reward per step; solid: the target part of each group, dashed: the explorer part (steps with "
              "G_w > 0), dotted: all responses. Runs over 30 steps: rolling mean over faint raw points.",
    "schedule": "The schedule: explorer responses G_w and target responses G_s per group.",
    "response_length": "Mean response length per step.",
    "kl_entropy": "KL to the initial model and policy entropy per step.",
    "target_tokens": "Tokens the target generated, cumulative: the rollout compute each run paid.",
    "validation": "Validation Pass@1 during training (val.jsonl) against the step (left) and against the tokens the "
                  "target generated (right, the rollout compute); arms of several seeds: mean with a band of one "
                  "standard deviation. Step 0 is the untrained model.",
    "heldout_checkpoints": "Held-out accuracy of each checkpoint (heldout_scores.json); arms of several seeds: "
                           "mean with a band of one standard deviation.",
}


@dataclass(frozen=True)
class Report:
    data: dict[str, Any]
    grids: list[Grid]
    plots: dict[str, Path]
    markdown: Path
    json: Path


def render_markdown(data: dict[str, Any], grids: list[Grid], plots: dict[str, Path]) -> str:
    lines = ["# s2lpo report", "", *(f"{line}  " for line in data["verdict"]), "",
             f"Runs compared (baseline: **{data['baseline']}**):", ""]
    for run in data["runs"]:
        lines.append(f"- **{run['name']}** — `{run['path']}`")
        lines.extend(f"  - {note}" for note in run["notes"])
    lines.append("")
    lines += [f"**Warning:** {warning}" for warning in data["warnings"]] + ([""] if data["warnings"] else [])
    for grid in grids:
        lines += [to_markdown(grid), ""]
    if plots:
        lines += ["## Plots", ""]
    for name, path in plots.items():
        caption = PLOT_CAPTIONS.get(name, f"{name.removeprefix('passk_')}: Pass@k against k.")
        lines += [f"![{name}]({path.name})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def make_report(run_dirs: list[str | Path], out_dir: str | Path, baseline: str | None = None,
                groups: list[str] | None = None, reach: float | None = None) -> Report:
    """Read every run, write report.json, the PNG plots and report.md into out_dir.
    groups: `--group NAME=RUN,RUN` options (arms of several seeds); reach: see reporting/validation.py."""
    runs = load_runs(run_dirs)
    base = pick_baseline(runs, baseline)
    data = build_report_data(runs, base, parse_groups(groups or [], [r.name for r in runs]), reach)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    grids = all_grids(data)
    plots = all_plots(data, out)
    data["plots"] = {name: path.name for name, path in plots.items()}
    json_path, md_path = out / "report.json", out / "report.md"
    write_text_atomic(json_path, json.dumps(data, indent=2) + "\n")
    write_text_atomic(md_path, render_markdown(data, grids, plots))
    return Report(data=data, grids=grids, plots=plots, markdown=md_path, json=json_path)
