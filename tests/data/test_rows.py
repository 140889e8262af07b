import json

import pytest

from s2lpo_cli.data.rows import prompt_id, read_rows
from s2lpo_cli.errors import UserError


def _jsonl(tmp_path, lines):
    p = tmp_path / "rows.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_reads_rows_and_ids(tmp_path):
    p = _jsonl(tmp_path, [json.dumps({"id": "a", "question": "1+1?", "answer": "2", "level": 1}),
                          json.dumps({"question": "2+2?", "answer": 4})])
    rows = read_rows(p)
    assert [(r.id, r.answer) for r in rows] == [("a", "2"), ("1", "4")]
    assert rows[0].extra == {"level": 1}
    assert rows[0].prompt_id == prompt_id(" 1+1? ") != rows[1].prompt_id


def test_bad_json_names_file_and_line(tmp_path):
    p = _jsonl(tmp_path, [json.dumps({"question": "q", "answer": "1"}), "{not json"])
    with pytest.raises(UserError, match=rf"{p}:2: not valid JSON"):
        read_rows(p)


def test_missing_answer_is_an_error_unless_skipped(tmp_path):
    p = _jsonl(tmp_path, [json.dumps({"question": "q", "answer": None}), json.dumps({"question": "r", "answer": "1"})])
    with pytest.raises(UserError, match=rf"{p}:1: missing field\(s\) 'answer'"):
        read_rows(p)
    assert [r.question for r in read_rows(p, skip_incomplete=True)] == ["r"]


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_rows(tmp_path / "nope.jsonl")
    with pytest.raises(UserError, match="holds no rows"):
        read_rows(_jsonl(tmp_path, [""]))


def test_parquet_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"question": ["a?", "b?"], "answer": ["1", "2"]}), p)
    assert [r.answer for r in read_rows(p, limit=1)] == ["1"]
