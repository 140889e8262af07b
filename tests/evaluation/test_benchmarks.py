import importlib.util

import pytest

from s2lpo_cli.data.benchmarks import get_benchmark, load_benchmark, load_benchmark_file, registered
from s2lpo_cli.errors import UserError


def test_every_shipped_benchmark_validates():
    specs = registered()
    assert set(specs) == {"aime24", "aime25", "commonsenseqa", "math500"}
    assert all(s.version >= 1 for s in specs.values())
    assert specs["aime24"].answer_type == "integer" and specs["math500"].answer_type == "latex"
    assert all(s.hub is not None and {"question", "answer"} <= set(s.hub.fields) for s in specs.values())


def test_unknown_benchmark_lists_the_known_ones():
    with pytest.raises(UserError, match=r"unknown benchmark 'aime2024'\. Did you mean 'aime24'\? Known: aime24, aime25, commonsenseqa, math500"):
        get_benchmark("aime2024")


def test_local_files(shared_data):
    aime = load_benchmark(get_benchmark("aime24"), shared_data)
    assert len(aime) == 30 and all(r.answer == str(int(r.answer)) for r in aime)
    assert "25" in {r.answer for r in aime}  # "025" in the source, normalised
    assert len(load_benchmark(get_benchmark("aime25"), shared_data)) == 30
    math = load_benchmark(get_benchmark("math500"), shared_data, limit=20)
    assert len(math) == 20 and {"subject", "level"} <= set(math[0].extra)


def test_missing_local_file_says_what_to_do(tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "datasets" else real_find_spec(name, *a))
    with pytest.raises(UserError, match=r"aime25: no .*aime25\.jsonl; pass --data-dir DIR .* pip install datasets"):
        load_benchmark(get_benchmark("aime25"), tmp_path)


def test_bad_rows_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "1"}\n{"question": "q2"\n')
    with pytest.raises(UserError, match=rf"{bad}:2: not valid JSON"):
        load_benchmark_file(bad)
    bad.write_text('{"question": "q", "answer": "1"}\n{"question": "q2"}\n')
    with pytest.raises(UserError, match=rf"{bad}:2: missing field\(s\) 'answer'"):
        load_benchmark_file(bad)
    bad.write_text('{"id": 1, "question": "q", "answer": "1"}\n{"id": 1, "question": "q2", "answer": "2"}\n')
    with pytest.raises(UserError, match="id '1' appears twice"):
        load_benchmark_file(bad)


def test_integer_answers_are_checked(tmp_path):
    (tmp_path / "aime24.jsonl").write_text('{"id": "a", "question": "q", "answer": "1/2"}\n')
    with pytest.raises(UserError, match=r"question 'a': answer '1/2' is not an integer"):
        load_benchmark(get_benchmark("aime24"), tmp_path)
