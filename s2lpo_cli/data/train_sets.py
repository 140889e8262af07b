"""The training-set registry (one YAML file per set in train_data/) and loading a set's rows.

`synthetic` is generated in code; the others are a local file `<data_dir>/<file>.jsonl` or `.parquet`
(data_dir from the recipe's data.data_dir, else $S2LPO_DATA_DIR), else their Hugging Face dataset when
they name one and `datasets` is installed. Anything not registered is a path to a jsonl/parquet file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from s2lpo_cli.data.hub import HubSource, has_datasets, load_hub_records, local_mapper, map_record
from s2lpo_cli.data.rows import Row, first_of_each, read_rows
from s2lpo_cli.data.spec_files import load_specs
from s2lpo_cli.errors import UserError
from s2lpo_cli.shipped import shipped_dir

TRAIN_DATA_DIR = shipped_dir("train_data")
DATA_DIR_ENV = "S2LPO_DATA_DIR"
SUFFIXES = (".jsonl", ".parquet")


class TrainSetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the name recipes use in data.train")
    version: int = Field(ge=1, description="raised whenever the rows change; written into rollout manifests")
    generated: Literal["tiny_task"] | None = Field(None, description="rows built in code (no file)")
    file: str | None = Field(None, description="local file name without suffix: <data_dir>/<file>.jsonl or .parquet")
    hub: HubSource | None = Field(None, description="where to get it when there is no local file")
    answer_type: Literal["integer", "latex"] = Field(
        description="integer: whole numbers (checked, leading zeros dropped); latex: raw LaTeX"
    )
    dedup: Literal["none", "question"] = Field(
        description="none: keep every row; question: drop rows whose question text repeats an earlier one exactly"
    )

    @model_validator(mode="after")
    def _one_source(self) -> TrainSetSpec:
        if (self.generated is None) == (self.file is None):
            raise ValueError("give exactly one of generated and file")
        if self.hub is not None and self.file is None:
            raise ValueError("hub: only a set with a local file name can fall back to the hub")
        return self


def registered() -> dict[str, TrainSetSpec]:
    return load_specs(TRAIN_DATA_DIR, TrainSetSpec)


def train_set_version(name_or_path: str) -> int | None:
    """The registered set's version (None for a path): rollout manifests record it."""
    spec = registered().get(name_or_path)
    return spec.version if spec else None


def drop_duplicates(rows: list[Row]) -> tuple[list[Row], int]:
    """Rows whose question text (exactly) was seen before are dropped, the first kept; returns (rows, dropped)."""
    return first_of_each(rows, lambda row: row.question)


def load_train_set(name_or_path: str, data_dir: str | None = None, limit: int | None = None) -> list[Row]:
    """Rows of a registered training set, or of a jsonl/parquet file of question/answer rows.

    A set with `dedup: question` drops exact duplicate questions before `limit`, and says how many it kept.
    """
    spec = registered().get(name_or_path)
    if spec is None:
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(
                f"{name_or_path}: not a registered training set ({', '.join(registered())}) and no such file"
            )
        return read_rows(path, limit=limit, skip_incomplete=True)
    if spec.generated == "tiny_task":
        from s2lpo_cli.tiny import task

        rows = [
            Row(id=r["id"], question=r["question"], answer=r["answer"], extra={"family": r["family"]})
            for r in task.rows(task.DEFAULT_SEED, "train")
        ]
        return rows[:limit] if limit else rows
    dedup = spec.dedup == "question"
    rows, source = _rows_of(spec, data_dir, None if dedup else limit)
    rows = _normalize(rows, spec, source)
    if dedup:
        rows, dropped = drop_duplicates(rows)
        _say(f"{spec.name}: kept {len(rows):,} unique questions of {len(rows) + dropped:,} rows "
             f"({dropped:,} exact duplicates dropped) from {source}")
    return rows[:limit] if limit else rows


def _say(message: str) -> None:
    from s2lpo_cli.console import err

    err.print(message, highlight=False)


def _normalize(rows: list[Row], spec: TrainSetSpec, source: str) -> list[Row]:
    if spec.answer_type == "latex":
        return rows
    out = []
    for row in rows:
        try:
            answer = str(int(row.answer.strip()))
        except ValueError:
            raise UserError(f"{source}: row {row.id!r}: answer {row.answer!r} is not an integer") from None
        out.append(Row(id=row.id, question=row.question, answer=answer, extra=row.extra))
    return out


def _rows_of(spec: TrainSetSpec, data_dir: str | None, limit: int | None) -> tuple[list[Row], str]:
    """The rows of a file-backed set, and where they came from: the local file, else the hub."""
    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    candidates = [Path(folder) / f"{spec.file}{suffix}" for suffix in SUFFIXES] if folder else []
    for path in candidates:
        if path.is_file():
            return read_rows(path, limit=limit, skip_incomplete=True, mapper=local_mapper(spec.hub)), str(path)
    if folder:
        looked = f"no {' or '.join(map(str, candidates))} (data folder from {'data_dir' if data_dir else DATA_DIR_ENV})"
    else:
        looked = f"no data folder (recipe data.data_dir or {DATA_DIR_ENV}) holding {spec.file}.jsonl"
    if spec.hub is None:
        raise UserError(
            f"training set '{spec.name}': {looked}; point data.data_dir or {DATA_DIR_ENV} "
            f"to the folder holding {spec.file}.jsonl"
        )
    return _from_hub(spec, spec.hub, looked, limit), spec.hub.dataset


def _from_hub(spec: TrainSetSpec, hub: HubSource, looked: str, limit: int | None) -> list[Row]:
    fix = f"put {spec.file}.jsonl or {spec.file}.parquet in data.data_dir or {DATA_DIR_ENV}"
    if not has_datasets():
        raise UserError(
            f"training set '{spec.name}': {looked}, and the hub ({hub.where()}) needs the `datasets` "
            f"package: pip install datasets, or {fix}"
        )
    try:
        table = load_hub_records(hub)
    except Exception as exc:  # offline, missing dataset, auth: reported the same way
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"training set '{spec.name}': {looked}, and the hub ({hub.where()}) could not be reached: "
            f"{first_line}; {fix}"
        ) from None
    rows = []
    for i, item in enumerate(table):
        if limit is not None and i >= limit:
            break
        mapped = map_record(item, hub, f"{hub.dataset} row {i}")
        rows.append(Row(id=str(mapped.get("id", i)), question=str(mapped["question"]), answer=str(mapped["answer"])))
    return rows
