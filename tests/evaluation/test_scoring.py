"""Scoring a raw file: multiple-choice questions graded in this process."""

from __future__ import annotations

import json

import pytest

from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.scoring import score_raw_file


def test_a_choice_question_without_choices_names_the_file_and_question(tmp_path):
    raw = tmp_path / "csqa_raw.jsonl"
    raw.write_text(json.dumps({"id": "q7", "answer": "A", "responses": [{"text": "\\boxed{A}"}]}) + "\n")
    with pytest.raises(UserError, match=rf"^{raw}: question 'q7': needs 'choices'"):
        score_raw_file(raw, tmp_path / "csqa.jsonl", grader=None, pass_ks=[1], answer_type="choice")
    assert not (tmp_path / "csqa.jsonl").exists()
