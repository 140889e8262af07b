"""`<bench>_raw.jsonl`: one line per question with its k responses, appended as questions finish.

A line: {"id", "question", "answer", ["subject", "level",] ["choices",] "n_prompt_tokens",
"responses": [{"text", "n_tokens", "finish_reason"}, ...]}. A question the engine could not take (its
prompt is longer than the model's context) has "skipped": the reason, and k empty "length" responses.
Lines are appended and fsynced one batch at a time. A run killed mid-write leaves at most a torn last
line without its newline; resuming cuts it off, so no question is lost or written twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from s2lpo_cli.data.rows import Row, iter_jsonl
from s2lpo_cli.engines.base import PromptOutput
from s2lpo_cli.errors import UserError
from s2lpo_cli.grading.metrics import BREAKDOWN_KEYS

# Row fields kept in the raw file: the breakdown groups, and a multiple-choice question's choices (its grader needs them).
RAW_EXTRA_KEYS = (*BREAKDOWN_KEYS, "choices")


def raw_record(row: Row, output: PromptOutput) -> dict[str, Any]:
    record: dict[str, Any] = {"id": row.id, "question": row.question, "answer": row.answer}
    record.update({key: row.extra[key] for key in RAW_EXTRA_KEYS if row.extra.get(key) is not None})
    record["n_prompt_tokens"] = len(output.prompt_token_ids)
    record["responses"] = [
        {"text": c.text, "n_tokens": len(c.token_ids), "finish_reason": c.finish_reason} for c in output.completions
    ]
    return record


def skipped_record(row: Row, reason: str, k: int) -> dict[str, Any]:
    record: dict[str, Any] = {"id": row.id, "question": row.question, "answer": row.answer}
    record.update({key: row.extra[key] for key in RAW_EXTRA_KEYS if row.extra.get(key) is not None})
    record["skipped"] = reason
    record["responses"] = [{"text": "", "n_tokens": 0, "finish_reason": "length"} for _ in range(k)]
    return record


def _check(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [k for k in ("id", "answer", "responses") if k not in record]
    if missing:
        raise UserError(f"{where}: missing field(s) {', '.join(missing)} (a raw line has id, answer, responses)")
    responses = record["responses"]
    if not isinstance(responses, list) or not responses:
        raise UserError(f"{where}: 'responses' must be a non-empty list")
    for i, response in enumerate(responses):
        if not isinstance(response, dict) or not isinstance(response.get("text"), str):
            raise UserError(f"{where}: responses[{i}] needs a 'text' string")
    return record


def read_raw(path: Path) -> list[dict[str, Any]]:
    """Every line of a raw file, checked; a bad line is an error naming file:line."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    records = [_check(obj, f"{path}:{lineno}") for lineno, obj in iter_jsonl(path)]
    if not records:
        raise UserError(f"{path}: holds no responses")
    return records


def finished_ids(path: Path) -> set[str]:
    """Ids of the questions already in a raw file, after cutting off a torn last line."""
    if not path.is_file():
        return set()
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as fh:
            fh.truncate(end)
    return {str(record["id"]) for record in read_raw(path)} if end else set()


def append_records(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        fh.flush()
        os.fsync(fh.fileno())
