"""Fixtures of the evaluation tests: one grading pool for the session, a small question file."""

from __future__ import annotations

import json

import pytest

from s2lpo_cli.grading.grader import Grader


@pytest.fixture(scope="session")
def grader():
    with Grader(workers=2, timeout_s=5.0) as g:
        yield g


@pytest.fixture
def bench_file(tmp_path):
    rows = [
        {"id": "q1", "question": "What is 1+1?", "answer": "2"},
        {"id": "q2", "question": "What is half of one?", "answer": "\\frac{1}{2}"},
        {"id": "q3", "question": "Name the interval from 0 to 1, open.", "answer": "(0, 1)"},
        {"id": "q4", "question": "What is 3 squared?", "answer": "9", "subject": "Algebra", "level": 1},
        {"id": "q5", "question": "What is sqrt 2 over 2?", "answer": "\\frac{\\sqrt{2}}{2}", "subject": "Algebra", "level": 2},
    ]
    path = tmp_path / "toy.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
