"""Training sets by name or path: `synthetic` (generated, no files), `math_train` (a file in the data dir)."""

from __future__ import annotations

import os
from pathlib import Path

from s2lpo_cli.data.rows import Row, read_rows

DATA_DIR_ENV = "S2LPO_DATA_DIR"
NAMES = ("synthetic", "math_train")


def load_train_set(name_or_path: str, data_dir: str | None = None, limit: int | None = None) -> list[Row]:
    """Rows of a training set.

    `synthetic`: the train split of the tiny task for seed 0 (what `s2lpo tiny init` writes to
    data/train.jsonl). `math_train`: `<data_dir>/math_train.jsonl`, data_dir from the argument, else the
    S2LPO_DATA_DIR environment variable. Anything else: a path to a jsonl or parquet file of rows.
    """
    if name_or_path == "synthetic":
        from s2lpo_cli.tiny import task

        rows = [
            Row(id=r["id"], question=r["question"], answer=r["answer"], extra={"family": r["family"]})
            for r in task.rows(task.DEFAULT_SEED, "train")
        ]
        return rows[:limit] if limit else rows
    if name_or_path == "math_train":
        return read_rows(_registered_file("math_train", data_dir), limit=limit, skip_incomplete=True)
    path = Path(name_or_path)
    if not path.is_file():
        from s2lpo_cli.errors import UserError

        raise UserError(
            f"{name_or_path}: not a registered training set ({', '.join(NAMES)}) and no such file"
        )
    return read_rows(path, limit=limit, skip_incomplete=True)


def _registered_file(name: str, data_dir: str | None) -> Path:
    from s2lpo_cli.errors import UserError

    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    if not folder:
        raise UserError(
            f"training set '{name}' needs its data folder: pass data_dir (recipe data.data_dir) "
            f"or set {DATA_DIR_ENV} to the folder holding {name}.jsonl"
        )
    path = Path(folder) / f"{name}.jsonl"
    if not path.is_file():
        source = "data_dir" if data_dir else DATA_DIR_ENV
        raise UserError(
            f"training set '{name}': {path} not found (looked in {folder}, from {source}); "
            f"point data.data_dir or {DATA_DIR_ENV} to the folder holding {name}.jsonl"
        )
    return path
