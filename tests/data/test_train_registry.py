"""The training-set registry: every shipped YAML, dapo17k's column mapping and dedup on a fixture in the hub's
layout, and the message when neither the local file nor the hub can be reached."""

import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s2lpo_cli.data.rows import Row
from s2lpo_cli.data.train_sets import (
    DATA_DIR_ENV,
    drop_duplicates,
    load_train_set,
    registered,
    train_set_version,
)
from s2lpo_cli.errors import UserError

PREFIX = ("Solve the following math problem step by step. The last line of your response should be of the form "
          "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n")
SUFFIX = '\n\nRemember to put your answer on its own line after "Answer:".'
# (problem, answer, copies): the hub's rows repeat each prompt many times.
PROBLEMS = [("What is $2+3$?", "5", 4), ("Find $x$ if $2x = 10$.", "5", 3), ("How many primes are below 10?", "004", 5)]


def hub_row(problem: str, answer: str, index: int) -> dict:
    """A row in BytedTsinghua-SIA/DAPO-Math-17k's layout."""
    return {
        "data_source": "math_dapo",
        "prompt": [{"content": PREFIX + problem + SUFFIX, "role": "user"}],
        "ability": "MATH",
        "reward_model": {"ground_truth": answer, "style": "rule-lighteval/MATH_v2"},
        "extra_info": {"index": f"uuid-{index}"},
    }


@pytest.fixture
def dapo_dir(tmp_path):
    """<dir>/dapo17k.parquet in the hub's layout, duplicates interleaved: 12 rows, 3 unique prompts."""
    rows = [hub_row(p, a, i) for i in range(5) for p, a, copies in PROBLEMS if i < copies]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "dapo17k.parquet")
    return tmp_path


def test_shipped_sets_validate():
    specs = registered()
    assert set(specs) == {"synthetic", "math_train", "dapo17k"}
    assert specs["dapo17k"].hub.dataset == "BytedTsinghua-SIA/DAPO-Math-17k" and specs["dapo17k"].dedup == "question"
    assert specs["synthetic"].generated == "tiny_task" and specs["math_train"].hub is None
    assert train_set_version("dapo17k") == specs["dapo17k"].version and train_set_version("rows.jsonl") is None


def test_dapo17k_mapping_and_dedup(dapo_dir, capsys):
    rows = load_train_set("dapo17k", data_dir=str(dapo_dir))
    assert [(r.question, r.answer) for r in rows] == [(p, str(int(a))) for p, a, _ in PROBLEMS]
    assert all("Answer:" not in r.question and r.extra == {} for r in rows)
    assert "dapo17k: kept 3 unique questions of 12 rows (9 exact duplicates dropped)" in capsys.readouterr().err
    assert [r.question for r in load_train_set("dapo17k", data_dir=str(dapo_dir), limit=2)] == [PROBLEMS[0][0], PROBLEMS[1][0]]


def test_dapo17k_in_our_layout_from_the_env_folder(tmp_path, monkeypatch):
    lines = [{"question": "q1", "answer": "1"}, {"question": "q1", "answer": "1"}, {"question": "q2", "answer": "02"}]
    (tmp_path / "dapo17k.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert [(r.question, r.answer) for r in load_train_set("dapo17k")] == [("q1", "1"), ("q2", "2")]


def test_non_integer_answer_is_named(tmp_path):
    (tmp_path / "dapo17k.jsonl").write_text(json.dumps({"id": "r7", "question": "q", "answer": "1/2"}) + "\n")
    with pytest.raises(UserError, match=r"dapo17k\.jsonl: row 'r7': answer '1/2' is not an integer"):
        load_train_set("dapo17k", data_dir=str(tmp_path))


def test_a_missing_column_is_named(tmp_path):
    pq.write_table(pa.Table.from_pylist([{"prompt": [{"content": "q", "role": "user"}]}]), tmp_path / "dapo17k.parquet")
    with pytest.raises(UserError, match=r"row 1: no field 'reward_model\.ground_truth' \(for 'answer'\)"):
        load_train_set("dapo17k", data_dir=str(tmp_path))


def test_drop_duplicates_keeps_the_first():
    rows = [Row("a", "q", "1"), Row("b", "q2", "2"), Row("c", "q", "9")]
    kept, dropped = drop_duplicates(rows)
    assert [r.id for r in kept] == ["a", "b"] and dropped == 1


def test_neither_local_file_nor_hub_names_both_places(tmp_path):
    """The hub unreachable (offline mode, an empty cache): the message names the local files and the dataset."""
    pytest.importorskip("datasets")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    code = ("from s2lpo_cli.data.train_sets import load_train_set\n"
            "from s2lpo_cli.errors import UserError\n"
            f"try:\n    load_train_set('dapo17k', data_dir={str(tmp_path)!r})\n"
            "except UserError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    message = done.stdout
    assert f"no {tmp_path}/dapo17k.jsonl or {tmp_path}/dapo17k.parquet" in message, done.stderr
    assert "the hub (BytedTsinghua-SIA/DAPO-Math-17k, split train) could not be reached" in message


def test_without_datasets_says_so(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "datasets" else real(name, *a))
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(UserError, match=r"no data folder .*, and the hub .* needs the `datasets` package"):
        load_train_set("dapo17k")
