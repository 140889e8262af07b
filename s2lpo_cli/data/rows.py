"""Question/answer rows from jsonl or parquet files, with errors that name the file and line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s2lpo_cli.errors import UserError


@dataclass(frozen=True)
class Row:
    """One problem. `answer` is the gold answer as raw LaTeX (no $ or \\boxed{})."""

    id: str
    question: str
    answer: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_id(self) -> str:
        return prompt_id(self.question)


def prompt_id(question: str) -> str:
    """A stable id of a question: its content hash, not a row number."""
    return hashlib.sha256(question.strip().encode()).hexdigest()[:16]


class _IncompleteRow(UserError):
    pass


def _row(obj: Any, where: str, index: int) -> Row:
    if not isinstance(obj, dict):
        raise UserError(f"{where}: expected a JSON object with 'question' and 'answer', got {type(obj).__name__}")
    missing = [k for k in ("question", "answer") if k not in obj or obj[k] in (None, "")]
    if missing:
        raise _IncompleteRow(
            f"{where}: missing field(s) {', '.join(repr(m) for m in missing)} (every row needs 'question' and 'answer')"
        )
    extra = {k: v for k, v in obj.items() if k not in ("id", "question", "answer")}
    rid = obj.get("id", obj.get("unique_id", index))
    return Row(id=str(rid), question=str(obj["question"]), answer=str(obj["answer"]), extra=extra)


def iter_jsonl(path: Path):
    """(line number, object) for each non-blank line; a line that is not JSON is an error naming file:line."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None


def _records(path: Path):
    """(where, index, object) for each record of a .jsonl or .parquet file."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for i, obj in enumerate(pq.read_table(path).to_pylist()):
            yield f"{path}: row {i + 1}", i, obj
        return
    for lineno, obj in iter_jsonl(path):
        yield f"{path}:{lineno}", lineno - 1, obj


def read_rows(
    path: str | Path,
    limit: int | None = None,
    skip_incomplete: bool = False,
    mapper: Callable[[Any, str], Any] | None = None,
) -> list[Row]:
    """Read a .jsonl or .parquet file of rows with `question` and `answer` (`id` optional).

    A row without a question or answer is an error naming its line, unless `skip_incomplete`: then it is
    left out and one warning lists the lines (real training sets, e.g. MATH train, have a few such rows).
    `mapper(record, where)` turns each record into that layout first (a hub dataset's own columns).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    rows, skipped = [], []
    for where, index, obj in _records(path):
        if mapper is not None:
            obj = mapper(obj, where)
        try:
            rows.append(_row(obj, where, index))
        except _IncompleteRow:
            if not skip_incomplete:
                raise
            skipped.append(where.rsplit(":", 1)[-1].strip())
        if limit and len(rows) >= limit:
            break
    if skipped:
        from s2lpo_cli.console import err

        err.print(f"[yellow]warning:[/] {path}: skipped {len(skipped)} row(s) without question or answer "
                  f"(line/row {', '.join(skipped[:10])}{', ...' if len(skipped) > 10 else ''})", highlight=False)
    if not rows:
        raise UserError(f"{path}: holds no rows")
    return rows


def first_of_each(rows: list[Row], key: Callable[[Row], str]) -> tuple[list[Row], int]:
    """The first row of each `key` value, in order, and how many rows were dropped."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        if key(row) not in seen:
            seen.add(key(row))
            kept.append(row)
    return kept, len(rows) - len(kept)
