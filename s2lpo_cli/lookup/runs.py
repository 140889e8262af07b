"""The newest finished training run, for `s2lpo eval` without `--model`."""

from __future__ import annotations

from pathlib import Path

RUNS_DIR = Path("runs")
FINAL = "final"
RECIPE = "recipe.yaml"


def finished_runs(root: Path = RUNS_DIR) -> list[Path]:
    """Training run folders under root holding a final model (verl's final/ is a link), newest first.

    Newest means the latest final/ written (or linked), so a resumed old run that just finished counts.
    """
    if not root.is_dir():
        return []
    runs = [d for d in root.iterdir() if (d / RECIPE).is_file() and (d / FINAL).is_dir()]
    return sorted(runs, key=lambda d: ((d / FINAL).lstat().st_mtime, d.name), reverse=True)


def newest_finished_run(root: Path = RUNS_DIR) -> Path | None:
    runs = finished_runs(root)
    return runs[0] if runs else None
