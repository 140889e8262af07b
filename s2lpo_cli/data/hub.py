"""Hugging Face datasets as row sources: where a dataset's fields are, and loading it.

Shared by the benchmark registry (eval_data/) and the training-set registry (train_data/). A field is a
column name or a dotted path into nested columns (`prompt.0.content`: the first chat message's text).
Hub loading needs the `datasets` package, which is not a dependency of s2lpo.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from s2lpo_cli.errors import UserError


class HubSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="Hugging Face dataset id")
    config: str | None = Field(None, description="dataset configuration name, if it has several")
    split: str = Field(description="the split holding the problems")
    fields: dict[str, str] = Field(
        description="our field -> the dataset's column, or a dotted path into nested columns (question and answer required)"
    )
    strip_prefix: str = Field("", description="text the dataset puts before every question, removed when present")
    strip_suffix: str = Field("", description="text the dataset puts after every question, removed when present")

    @field_validator("fields")
    @classmethod
    def _needs_question_and_answer(cls, fields: dict[str, str]) -> dict[str, str]:
        missing = [f for f in ("question", "answer") if f not in fields]
        if missing:
            raise ValueError(f"must map {', '.join(missing)} to a column of the dataset")
        return fields

    def where(self) -> str:
        return f"{self.dataset}" + (f" ({self.config})" if self.config else "") + f", split {self.split}"


def field_value(record: dict[str, Any], path: str) -> Any:
    """The value at a column name or dotted path (`reward_model.ground_truth`, `prompt.0.content`)."""
    value: Any = record
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(path)
    return value


def map_record(record: dict[str, Any], hub: HubSource, where: str) -> dict[str, Any]:
    """A record in the dataset's column layout as our {"question", "answer", ...} dict, the question stripped."""
    mapped = {}
    for ours, theirs in hub.fields.items():
        try:
            mapped[ours] = field_value(record, theirs)
        except KeyError:
            raise UserError(
                f"{where}: no field {theirs!r} (for {ours!r}); columns: {', '.join(map(str, record))}"
            ) from None
    question = str(mapped["question"])
    if hub.strip_prefix and question.startswith(hub.strip_prefix):
        question = question[len(hub.strip_prefix):]
    if hub.strip_suffix and question.endswith(hub.strip_suffix):
        question = question[: -len(hub.strip_suffix)]
    mapped["question"] = question.strip()
    return mapped


def has_datasets() -> bool:
    return importlib.util.find_spec("datasets") is not None


def load_hub_records(hub: HubSource) -> Any:
    """The split as an iterable of records. Raises whatever `datasets` raises (offline, missing, auth)."""
    import datasets

    return datasets.load_dataset(hub.dataset, hub.config, split=hub.split)


def local_mapper(hub: HubSource | None):
    """For read_rows: a local file's records in the hub's column layout are mapped like hub rows;
    records already in ours ({"question", "answer", ...}) pass through. None without a hub source."""
    if hub is None:
        return None

    def to_ours(record: Any, where: str) -> Any:
        if isinstance(record, dict) and not {"question", "answer"} <= set(record):
            return map_record(record, hub, where)
        return record

    return to_ours
