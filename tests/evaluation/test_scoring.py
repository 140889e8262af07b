"""Scoring a raw file: multiple-choice questions graded in this process, and the scored file's lines."""

from __future__ import annotations

import json

import pytest

from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.scoring import score_raw_file


class RecordsProgress:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def begin(self, label: str, total: int, done: int = 0) -> None:
        self.calls.append(("begin", label, total))

    def advance(self, n: int) -> None:
        self.calls.append(("advance", n))

    def note(self, message: str) -> None:
        self.calls.append(("note", message))


def test_a_choice_question_is_scored_and_its_line_keeps_its_text(tmp_path):
    raw = tmp_path / "csqa_raw.jsonl"
    question = {"id": "frage-ü", "answer": "A", "choices": {"A": "ja", "B": "nein"},
                "responses": [{"text": "\\boxed{A}", "n_tokens": 4}, {"text": "\\boxed{B}", "n_tokens": 6}]}
    raw.write_text(json.dumps(question) + "\n")
    progress = RecordsProgress()
    metrics = score_raw_file(raw, tmp_path / "csqa.jsonl", None, [1, 2], progress, "csqa: grading", "choice")
    assert (tmp_path / "csqa.jsonl").read_bytes() == (
        '{"id": "frage-ü", "answer": "A", "extracted": ["A", "B"], "correct": [true, false], '
        '"grade_status": ["ok", "ok"]}\n'
    ).encode()
    assert progress.calls == [("begin", "csqa: grading", 2), ("advance", 2)]
    assert (metrics["pass@1"], metrics["pass@k"], metrics["mean_length"]) == (0.5, {"1": 0.5, "2": 1.0}, 5.0)


def test_a_choice_question_without_choices_names_the_file_and_question(tmp_path):
    raw = tmp_path / "csqa_raw.jsonl"
    raw.write_text(json.dumps({"id": "q7", "answer": "A", "responses": [{"text": "\\boxed{A}"}]}) + "\n")
    with pytest.raises(UserError, match=rf"^{raw}: question 'q7': needs 'choices'"):
        score_raw_file(raw, tmp_path / "csqa.jsonl", None, [1], None, "grading", "choice")
    assert not (tmp_path / "csqa.jsonl").exists()
