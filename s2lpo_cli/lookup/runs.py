"""The newest finished training run, for `s2lpo eval` without `--model`."""

from __future__ import annotations

from pathlib import Path

from s2lpo_cli.run_folder import RunFolder

RUNS_DIR = Path("runs")


def finished_runs(root: Path = RUNS_DIR) -> list[Path]:
    """Training run folders under root holding a final model (verl's final/ is a link), newest first.

    Newest means the latest final/ written (or linked), so a resumed old run that just finished counts.
    """
    if not root.is_dir():
        return []
    runs = [RunFolder(d) for d in root.iterdir() if RunFolder(d).finished()]
    return [r.root for r in sorted(runs, key=lambda r: (r.final.lstat().st_mtime, r.root.name), reverse=True)]


def newest_finished_run(root: Path = RUNS_DIR) -> Path | None:
    runs = finished_runs(root)
    return runs[0] if runs else None
