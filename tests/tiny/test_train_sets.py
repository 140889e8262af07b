"""load_train_set: the synthetic set, math_train from the data folder, any path."""

import json

import pytest

from s2lpo_cli.data.train_sets import DATA_DIR_ENV, load_train_set
from s2lpo_cli.errors import UserError
from s2lpo_cli.tiny import task


def test_synthetic_is_the_seed_0_train_split():
    rows = load_train_set("synthetic")
    assert [(r.id, r.question, r.answer) for r in rows] == [
        (r["id"], r["question"], r["answer"]) for r in task.rows(0, "train")
    ]
    assert len(load_train_set("synthetic", limit=7)) == 7


def test_math_train_from_data_dir_argument_and_env(tmp_path, monkeypatch):
    (tmp_path / "math_train.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "2"}) + "\n")
    assert load_train_set("math_train", data_dir=str(tmp_path))[0].answer == "2"
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert load_train_set("math_train")[0].question == "1+1?"


def test_math_train_missing_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(UserError, match=DATA_DIR_ENV):
        load_train_set("math_train")
    with pytest.raises(UserError, match=str(tmp_path / "math_train.jsonl")):
        load_train_set("math_train", data_dir=str(tmp_path))


def test_shared_math_train(shared_data):
    rows = load_train_set("math_train", data_dir=str(shared_data), limit=20)
    assert len(rows) == 20 and all(r.question and r.answer for r in rows)


def test_path_and_unknown_name(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(
        "".join(json.dumps({"id": i, "question": f"q{i}", "answer": str(i)}) + "\n" for i in range(5))
    )
    assert [r.answer for r in load_train_set(str(path), limit=3)] == ["0", "1", "2"]
    with pytest.raises(UserError, match="not a registered training set"):
        load_train_set("math_trian")
