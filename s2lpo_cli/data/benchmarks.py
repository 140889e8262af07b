"""The benchmark registry (one YAML file per benchmark in eval_data/) and loading a benchmark's rows.

A benchmark is read from `<data_dir>/<file>` when that file exists; otherwise from its Hugging Face dataset,
when the `datasets` package is installed (it is not a dependency of s2lpo).
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from s2lpo_cli.data.rows import Row, read_rows
from s2lpo_cli.errors import UserError

EVAL_DATA_DIR = Path(__file__).resolve().parents[2] / "eval_data"


class HubSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="Hugging Face dataset id")
    config: str | None = Field(None, description="dataset configuration name, if it has several")
    split: str = Field(description="the split holding the problems")
    fields: dict[str, str] = Field(description="our field -> the dataset's column (question and answer required)")

    @field_validator("fields")
    @classmethod
    def _needs_question_and_answer(cls, fields: dict[str, str]) -> dict[str, str]:
        missing = [f for f in ("question", "answer") if f not in fields]
        if missing:
            raise ValueError(f"must map {', '.join(missing)} to a column of the dataset")
        return fields


class BenchmarkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the name used on the command line and in results")
    file: str = Field(description="local file name, looked up under --data-dir")
    hub: HubSource | None = Field(None, description="where to get it when there is no local file")
    answer_type: Literal["integer", "latex"] = Field(
        description="integer: answers are whole numbers (leading zeros dropped); latex: raw LaTeX"
    )


def registered() -> dict[str, BenchmarkSpec]:
    specs = {}
    for path in sorted(EVAL_DATA_DIR.glob("*.yaml")):
        try:
            spec = BenchmarkSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise UserError(f"{path}: {problems}") from None
        specs[spec.name] = spec
    return specs


def get_benchmark(name: str) -> BenchmarkSpec:
    specs = registered()
    if name in specs:
        return specs[name]
    close = difflib.get_close_matches(name, list(specs), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UserError(
        f"unknown benchmark {name!r}.{hint} Known: {', '.join(specs)} "
        "(or give any {\"question\", \"answer\"} jsonl with --benchmark-file)"
    )


def _normalize(rows: list[Row], answer_type: str, source: str) -> list[Row]:
    seen: set[str] = set()
    out = []
    for row in rows:
        if row.id in seen:
            raise UserError(f"{source}: id {row.id!r} appears twice; every question needs its own id")
        seen.add(row.id)
        answer = row.answer.strip()
        if answer_type == "integer":
            try:
                answer = str(int(answer))
            except ValueError:
                raise UserError(f"{source}: question {row.id!r}: answer {row.answer!r} is not an integer") from None
        out.append(Row(id=row.id, question=row.question, answer=answer, extra=row.extra))
    return out


def _from_hub(spec: BenchmarkSpec, limit: int | None) -> list[Row]:
    import datasets

    hub = spec.hub
    assert hub is not None
    try:
        table = datasets.load_dataset(hub.dataset, hub.config, split=hub.split)
    except Exception as exc:  # network, missing dataset, auth: all reported the same way
        raise UserError(f"{spec.name}: cannot load {hub.dataset} ({hub.split}) from the hub: {exc}") from None
    rows = []
    for i, item in enumerate(table):
        if limit is not None and i >= limit:
            break
        mapped = {ours: item[theirs] for ours, theirs in hub.fields.items()}
        extra = {k: v for k, v in mapped.items() if k not in ("id", "question", "answer")}
        rows.append(Row(id=str(mapped.get("id", i)), question=str(mapped["question"]), answer=str(mapped["answer"]), extra=extra))
    return rows


def load_benchmark(spec: BenchmarkSpec, data_dir: str | Path | None, limit: int | None = None) -> list[Row]:
    """Rows of a registered benchmark: the local file under data_dir, else the hub dataset."""
    local = Path(data_dir) / spec.file if data_dir is not None else None
    if local is not None and local.is_file():
        return _normalize(read_rows(local, limit), spec.answer_type, str(local))
    where = f"no {local}" if local is not None else "no --data-dir"
    if spec.hub is None:
        raise UserError(f"{spec.name}: {where}, and it has no hub source; pass --data-dir DIR holding {spec.file}")
    if importlib.util.find_spec("datasets") is None:
        raise UserError(
            f"{spec.name}: {where}; pass --data-dir DIR holding {spec.file}, "
            f"or pip install datasets to fetch {spec.hub.dataset} from the hub"
        )
    return _normalize(_from_hub(spec, limit), spec.answer_type, f"{spec.hub.dataset}:{spec.hub.split}")


def load_benchmark_file(path: str | Path, limit: int | None = None) -> list[Row]:
    """Any jsonl/parquet of {"question", "answer"} rows; answers are LaTeX."""
    return _normalize(read_rows(path, limit), "latex", str(path))
