"""The benchmark registry (one YAML file per benchmark in eval_data/) and loading a benchmark's rows.

A benchmark is read from `<data_dir>/<file>` when that file exists; otherwise from its Hugging Face dataset,
when the `datasets` package is installed (it is not a dependency of s2lpo). A local file holds either our
rows ({"id", "question", "answer", ...}) or rows in the hub dataset's own column layout.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from s2lpo_cli.data.choices import format_question, normalize_choices
from s2lpo_cli.data.hub import HubSource, has_datasets, load_hub_records, local_mapper, map_record
from s2lpo_cli.data.rows import Row, read_rows
from s2lpo_cli.data.spec_files import load_specs
from s2lpo_cli.errors import UserError
from s2lpo_cli.prompting import DEFAULT_INSTRUCTION
from s2lpo_cli.shipped import shipped_dir

EVAL_DATA_DIR = shipped_dir("eval_data")
ALL = "all"  # --benchmarks all: every registered benchmark


class BenchmarkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the name used on the command line and in results")
    version: int = Field(ge=1, description="raised whenever the questions, answers or prompt change; written into results")
    file: str = Field(description="local file name, looked up under --data-dir")
    hub: HubSource | None = Field(None, description="where to get it when there is no local file")
    answer_type: Literal["integer", "latex", "choice"] = Field(
        description="integer: whole numbers (leading zeros dropped); latex: raw LaTeX; "
        "choice: the letter of one of the row's `choices` (graded by the multiple-choice grader)"
    )
    instruction: str = Field(DEFAULT_INSTRUCTION, description="appended to every question of the prompt")
    default: bool = Field(True, description="run when --benchmarks is not given")

    @model_validator(mode="after")
    def _choices_are_mapped(self) -> BenchmarkSpec:
        if self.answer_type == "choice" and self.hub is not None and "choices" not in self.hub.fields:
            raise ValueError("hub.fields: a choice benchmark must map 'choices' to a column of the dataset")
        return self


def registered() -> dict[str, BenchmarkSpec]:
    return load_specs(EVAL_DATA_DIR, BenchmarkSpec)


def default_names() -> list[str]:
    """The benchmarks run when none are named (CommonsenseQA, out of domain, only on request)."""
    return [name for name, spec in registered().items() if spec.default]


def resolve_names(names: list[str]) -> list[str]:
    """Names as given on the command line, `all` expanded to every registered benchmark."""
    out: list[str] = []
    for name in names:
        for one in list(registered()) if name == ALL else [name]:
            if one not in out:
                out.append(one)
    return out


def get_benchmark(name: str) -> BenchmarkSpec:
    specs = registered()
    if name in specs:
        return specs[name]
    close = difflib.get_close_matches(name, list(specs), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UserError(
        f"unknown benchmark {name!r}.{hint} Known: {', '.join(specs)} (or {ALL}; "
        "or give any {\"question\", \"answer\"} jsonl with --benchmark-file)"
    )


def _normalize(rows: list[Row], answer_type: str, source: str) -> list[Row]:
    seen: set[str] = set()
    out = []
    for row in rows:
        if row.id in seen:
            raise UserError(f"{source}: id {row.id!r} appears twice; every question needs its own id")
        seen.add(row.id)
        answer = row.answer.strip()
        question, extra = row.question, row.extra
        if answer_type == "integer":
            try:
                answer = str(int(answer))
            except ValueError:
                raise UserError(f"{source}: question {row.id!r}: answer {row.answer!r} is not an integer") from None
        elif answer_type == "choice":
            choices = normalize_choices(row.extra.get("choices"), f"{source}: question {row.id!r}")
            if answer not in choices:
                raise UserError(
                    f"{source}: question {row.id!r}: answer {row.answer!r} is not one of its choice labels "
                    f"({', '.join(choices)})"
                )
            question, extra = format_question(question, choices), {**row.extra, "choices": choices}
        out.append(Row(id=row.id, question=question, answer=answer, extra=extra))
    return out


def _from_hub(spec: BenchmarkSpec, limit: int | None) -> list[Row]:
    hub = spec.hub
    assert hub is not None
    try:
        table = load_hub_records(hub)
    except Exception as exc:  # network, missing dataset, auth: all reported the same way
        raise UserError(f"{spec.name}: cannot load {hub.where()} from the hub: {exc}") from None
    rows = []
    for i, item in enumerate(table):
        if limit is not None and i >= limit:
            break
        mapped = map_record(item, hub, f"{hub.dataset} row {i}")
        extra = {k: v for k, v in mapped.items() if k not in ("id", "question", "answer")}
        rows.append(Row(id=str(mapped.get("id", i)), question=str(mapped["question"]), answer=str(mapped["answer"]), extra=extra))
    return rows


def load_benchmark(spec: BenchmarkSpec, data_dir: str | Path | None, limit: int | None = None) -> list[Row]:
    """Rows of a registered benchmark: the local file under data_dir, else the hub dataset."""
    local = Path(data_dir) / spec.file if data_dir is not None else None
    if local is not None and local.is_file():
        return _normalize(read_rows(local, limit, mapper=local_mapper(spec.hub)), spec.answer_type, str(local))
    where = f"no {local}" if local is not None else "no --data-dir"
    if spec.hub is None:
        raise UserError(f"{spec.name}: {where}, and it has no hub source; pass --data-dir DIR holding {spec.file}")
    if not has_datasets():
        raise UserError(
            f"{spec.name}: {where}; pass --data-dir DIR holding {spec.file}, "
            f"or pip install datasets to fetch {spec.hub.dataset} from the hub"
        )
    return _normalize(_from_hub(spec, limit), spec.answer_type, f"{spec.hub.dataset}:{spec.hub.split}")


def load_benchmark_file(path: str | Path, limit: int | None = None) -> list[Row]:
    """Any jsonl/parquet of {"question", "answer"} rows; answers are LaTeX."""
    return _normalize(read_rows(path, limit), "latex", str(path))


def spec_of(name: str, file: str | None = None) -> BenchmarkSpec | None:
    """The registered spec a benchmark of a run stands for; None for a --benchmark-file or an unknown name."""
    return None if file else registered().get(name)
