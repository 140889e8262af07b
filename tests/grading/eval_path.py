"""Grading through the path `s2lpo eval --responses` takes: a raw file, the CLI command, the scored file.

Tests of verdicts use this rather than a lower-level function, so that no step of the command (extraction,
the integer fast path, the percent handling, the worker's policy) is skipped. All pairs go in one raw file
and one command: one pool of grading workers for the whole batch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.grading.extract import extract_answer


def grade_via_eval(folder: Path, rows: list[tuple[str, str, str]]) -> dict[str, dict]:
    """Grade (id, response text, gold answer) rows with `s2lpo eval --responses`; the scored line of each id."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / "cases_raw.jsonl"
    raw.write_text("".join(
        json.dumps({"id": id_, "answer": gold, "responses": [{"text": text, "n_tokens": 1, "finish_reason": "stop"}]})
        + "\n" for id_, text, gold in rows
    ))
    result = CliRunner().invoke(app, ["eval", "--responses", str(raw), "--grader-workers", "2", "--json"])
    assert result.exit_code == 0, result.output
    scored = [json.loads(line) for line in (folder / "cases.jsonl").read_text().splitlines()]
    return {line["id"]: {"correct": line["correct"][0], "extracted": line["extracted"][0],
                         "status": line["grade_status"][0]} for line in scored}


_SPANS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_MATH_DELIMITER = re.compile(r"\$|\\\(|\\\[")
_BOX = re.compile(r"\\(?:boxed|fbox)\b")
_ANSWER_IS = re.compile(r"answer\s+is", re.IGNORECASE)


def _one_span(text: str) -> str | None:
    """The inside of a text that is one math span and nothing else, else None."""
    text = text.strip()
    for opener, closer in _SPANS:
        inner = text[len(opener):-len(closer)] if text.startswith(opener) and text.endswith(closer) else None
        if inner is not None and len(text) >= len(opener) + len(closer) and opener not in inner and closer not in inner:
            return inner.strip()
    return None


def gold_answer(gold: str) -> str:
    """An upstream gold as a benchmark file holds it: without the math delimiters around it; a gold written as
    a solution (with boxes or "the answer is") as the answer it gives, as MATH's answers were taken from its boxes."""
    inner = _one_span(gold)
    answer = inner if inner is not None else gold.strip()
    return (extract_answer(answer) or answer) if _BOX.search(answer) or _ANSWER_IS.search(answer) else answer


def response_text(pred: str) -> str:
    """An upstream prediction as a model's response: a bare answer (one math span, or at most three words
    without math delimiters or a box) is boxed, as models are asked to answer; anything else is prose, as written."""
    if _BOX.search(pred):
        return pred
    inner = _one_span(pred)
    if inner is not None:
        return f"\\boxed{{{inner}}}"
    if not _MATH_DELIMITER.search(pred) and len(pred.split()) <= 3:
        return f"\\boxed{{{pred.strip()}}}"
    return pred
