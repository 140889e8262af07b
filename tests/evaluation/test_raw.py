"""`<bench>_raw.jsonl`: its records, the refusal of a bad line, and the cut of a torn last line."""

from __future__ import annotations

import json

import pytest

from s2lpo_cli.data.rows import Row
from s2lpo_cli.engines.base import Completion, PromptOutput
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.raw import append_records, finished_ids, raw_record, read_raw, skipped_record

ROW = Row("q1", "What is ½ of 14?", "7", {"subject": "Algebra", "level": 0, "choices": None, "source": "x"})


def test_a_record_keeps_the_breakdown_and_counts_tokens():
    output = PromptOutput([1, 2, 3], [Completion("a", [5, 6], [-0.1, -0.2], "stop"), Completion("b", [7], [-0.3], "length")])
    record = raw_record(ROW, output)
    assert record == {
        "id": "q1", "question": "What is ½ of 14?", "answer": "7", "subject": "Algebra", "level": 0,
        "n_prompt_tokens": 3,
        "responses": [{"text": "a", "n_tokens": 2, "finish_reason": "stop"},
                      {"text": "b", "n_tokens": 1, "finish_reason": "length"}],
    }
    assert list(record) == ["id", "question", "answer", "subject", "level", "n_prompt_tokens", "responses"]


def test_a_skipped_question_has_its_reason_and_k_empty_cut_responses():
    row = Row("q2", "Pick one.", "B", {"choices": ["yes", "no"], "level": None})
    assert skipped_record(row, "prompt of 600 tokens > context 512", 2) == {
        "id": "q2", "question": "Pick one.", "answer": "B", "choices": ["yes", "no"],
        "skipped": "prompt of 600 tokens > context 512",
        "responses": [{"text": "", "n_tokens": 0, "finish_reason": "length"}] * 2,
    }
    assert list(skipped_record(ROW, "r", 1)) == ["id", "question", "answer", "subject", "level", "skipped", "responses"]


GOOD = {"id": "q1", "answer": "7", "responses": [{"text": "7"}]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ([1], "expected a JSON object, got list"),
        ({"id": "q"}, r"missing field\(s\) answer, responses \(a raw line has id, answer, responses\)"),
        ({**GOOD, "responses": []}, "'responses' must be a non-empty list"),
        ({**GOOD, "responses": "7"}, "'responses' must be a non-empty list"),
        ({**GOOD, "responses": [{"text": "7"}, "7"]}, r"responses\[1\] needs a 'text' string"),
        ({**GOOD, "responses": [{"text": 7}]}, r"responses\[0\] needs a 'text' string"),
    ],
    ids=["not_an_object", "missing_fields", "no_responses", "responses_not_a_list", "a_response_not_an_object",
         "a_text_not_a_string"],  # ids without backslashes: mutmut's fork server finds them by name
)
def test_a_bad_line_names_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "b_raw.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(UserError, match=rf"b_raw\.jsonl:2: {message}$"):
        read_raw(path)


def test_a_missing_or_empty_raw_file_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"none_raw\.jsonl: no such file$"):
        read_raw(tmp_path / "none_raw.jsonl")
    (tmp_path / "empty_raw.jsonl").write_text("\n")
    with pytest.raises(UserError, match=r"empty_raw\.jsonl: holds no responses$"):
        read_raw(tmp_path / "empty_raw.jsonl")


def test_appended_records_keep_their_text_and_a_torn_last_line_is_cut(tmp_path):
    path = tmp_path / "b_raw.jsonl"
    assert finished_ids(path) == set()
    append_records(path, [GOOD, {**GOOD, "id": 2, "question": "½"}])
    append_records(path, [{**GOOD, "id": "q3"}])
    whole = (
        '{"id": "q1", "answer": "7", "responses": [{"text": "7"}]}\n'
        '{"id": 2, "answer": "7", "responses": [{"text": "7"}], "question": "½"}\n'
        '{"id": "q3", "answer": "7", "responses": [{"text": "7"}]}\n'
    )
    assert path.read_bytes() == whole.encode("utf-8")
    with path.open("ab") as fh:
        fh.write(b'{"id": "q4", "ans')  # what a kill mid-write leaves
    assert finished_ids(path) == {"q1", "2", "q3"}
    assert path.read_bytes() == whole.encode("utf-8")
    path.write_bytes(b'{"id": "q1"')
    assert finished_ids(path) == set() and path.read_bytes() == b""


def test_a_raw_file_is_utf_8_whatever_the_locale(tmp_path):
    """A run resumed under an ASCII locale (no UTF-8 mode) appends a question with ½ to a raw file begun
    under UTF-8, and reads both back."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import s2lpo_cli

    path = tmp_path / "b_raw.jsonl"
    append_records(path, [{"id": "q1", "question": "½", "answer": "1", "responses": [{"text": "½"}]}])
    code = (
        "import sys; from pathlib import Path; from s2lpo_cli.evaluation.raw import append_records, finished_ids; "
        "p = Path(sys.argv[1]); append_records(p, [{'id': 'q2', 'question': '\\u00bd', 'answer': '1', "
        "'responses': [{'text': '\\u00bd'}]}]); print(sorted(finished_ids(p)))"
    )
    env = {**os.environ, "LC_ALL": "POSIX", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0",
           "PYTHONPATH": str(Path(s2lpo_cli.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "['q1', 'q2']\n"
    assert [r["question"] for r in read_raw(path)] == ["½", "½"]
