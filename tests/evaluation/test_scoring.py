"""Scoring a raw file: multiple-choice questions graded in this process, and the scored file's lines."""

from __future__ import annotations

import json

import pytest

from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.scoring import score_raw_file, score_records
from s2lpo_cli.grading.grader import Grade


class RecordsProgress:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def begin(self, label: str, total: int, done: int = 0) -> None:
        self.calls.append(("begin", label, total))

    def advance(self, n: int) -> None:
        self.calls.append(("advance", n))

    def note(self, message: str) -> None:
        self.calls.append(("note", message))


class ListGrader:
    """Gives these verdicts, in order, and reports each as done (as the grader's pool does)."""

    def __init__(self, grades: list[Grade]) -> None:
        self.grades, self.pairs = grades, []

    def grade(self, pairs, progress=None):
        self.pairs = pairs
        for _ in pairs:
            progress(1)
        return self.grades


def test_math_answers_are_graded_by_the_grader_and_the_metrics_worked_out_by_hand():
    records = [
        {"id": "q1", "answer": "2", "subject": "Algebra", "level": 1,
         "responses": [{"text": "\\boxed{2}", "n_tokens": 3, "finish_reason": "stop"},
                       {"text": "cut", "finish_reason": "length"}]},  # no n_tokens: 0
        {"id": "q2", "answer": 5, "skipped": "too long",
         "responses": [{"text": "\\boxed{5}", "n_tokens": 5}, {"text": "\\boxed{4}", "n_tokens": 5}]},
    ]
    grader = ListGrader([Grade(True, "2", "ok"), Grade(False, None, "no_answer"), Grade(True, "5", "ok"),
                         Grade(False, "4", "ok")])
    progress = RecordsProgress()
    scored, metrics = score_records(records, grader, [1, 2], progress, "math: grading", "latex", "math_raw.jsonl")
    assert grader.pairs == [("\\boxed{2}", "2"), ("cut", "2"), ("\\boxed{5}", "5"), ("\\boxed{4}", "5")]
    assert progress.calls == [("begin", "math: grading", 4)] + [("advance", 1)] * 4
    assert scored == [
        {"id": "q1", "answer": "2", "extracted": ["2", None], "correct": [True, False], "grade_status": ["ok", "no_answer"]},
        {"id": "q2", "answer": 5, "extracted": ["5", "4"], "correct": [True, False], "grade_status": ["ok", "ok"]},
    ]
    # q1 alone (Algebra, level 1): 1 of 2 right, lengths 3 and 0, one cut
    q1 = {"n_questions": 1, "k": 2, "pass@1": 0.5, "pass@k": {"1": 0.5, "2": 1.0}, "accuracy": 0.5,
          "mean_length": 1.5, "truncated_rate": 0.5, "timeouts": 0}
    assert metrics == {
        "n_questions": 2, "k": 2, "pass@1": 0.5, "pass@k": {"1": 0.5, "2": 1.0}, "accuracy": 0.5,
        "mean_length": 13 / 4, "truncated_rate": 0.25, "timeouts": 0, "no_answer_rate": 0.25, "grading_errors": 0,
        "breakdown": {"subject": {"Algebra": q1}, "level": {"1": q1}}, "skipped_questions": 1,
    }


def test_a_choice_question_is_scored_and_its_line_keeps_its_text(tmp_path):
    raw = tmp_path / "csqa_raw.jsonl"
    question = {"id": "frage-ü", "answer": "A", "choices": {"A": "ja", "B": "nein"},
                "responses": [{"text": f"\\boxed{{{c}}}", "n_tokens": n} for c, n in zip("ABAB", (4, 6, 4, 6), strict=True)]}
    raw.write_text(json.dumps(question) + "\n")
    progress = RecordsProgress()
    metrics = score_raw_file(raw, tmp_path / "csqa.jsonl", None, [1], progress, "csqa: grading", "choice")
    assert (tmp_path / "csqa.jsonl").read_bytes() == (
        '{"id": "frage-ü", "answer": "A", "extracted": ["A", "B", "A", "B"], "correct": [true, false, true, false], '
        '"grade_status": ["ok", "ok", "ok", "ok"]}\n'
    ).encode()
    assert progress.calls == [("begin", "csqa: grading", 4), ("advance", 4)]
    # pass@k for the ks asked (1) and for all 4 samples, not for the default ks' 2
    assert (metrics["pass@1"], metrics["pass@k"], metrics["mean_length"]) == (0.5, {"1": 0.5, "4": 1.0}, 5.0)


def test_a_choice_question_without_choices_names_the_file_and_question(tmp_path):
    raw = tmp_path / "csqa_raw.jsonl"
    raw.write_text(json.dumps({"id": "q7", "answer": "A", "responses": [{"text": "\\boxed{A}"}]}) + "\n")
    with pytest.raises(UserError, match=rf"^{raw}: question 'q7': needs 'choices'"):
        score_raw_file(raw, tmp_path / "csqa.jsonl", None, [1], None, "grading", "choice")
    assert not (tmp_path / "csqa.jsonl").exists()
