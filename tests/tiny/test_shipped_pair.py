"""The shipped tiny pairs (tiny_pairs/<task>/): their files match the recorded hashes, `lay_out` copies them."""

import hashlib
import json
import shutil

import pytest

from s2lpo_cli.data.rows import read_rows
from s2lpo_cli.errors import UserError
from s2lpo_cli.tiny import shipped_pair, task
from s2lpo_cli.tiny.accuracy import accuracy_by_family
from s2lpo_cli.tiny.shipped_pair import HASHES, lay_out, mismatches, pair_dir, read_hashes

SHIPPED_TASKS = [name for name in task.TASKS if (pair_dir(name) / "build.json").is_file()]


def test_the_arith_pair_is_shipped():
    assert "arith" in SHIPPED_TASKS


@pytest.mark.parametrize("name", SHIPPED_TASKS)
def test_shipped_files_match_their_recorded_hashes(name):
    folder = pair_dir(name)
    recorded = read_hashes(folder)
    for path in ("build.json", "data/train.jsonl", "explorer/model.safetensors", "target/model.safetensors",
                 "target/tokenizer.json"):
        assert recorded[path] == hashlib.sha256((folder / path).read_bytes()).hexdigest()
    assert mismatches(folder) == []


@pytest.mark.parametrize("name", SHIPPED_TASKS)
def test_shipped_pair_is_what_its_build_json_says(name):
    manifest = json.loads((pair_dir(name) / "build.json").read_text())
    assert (manifest["task"], manifest["seed"], manifest["profile"]) == (name, 0, "full")
    assert manifest["out_dir"] == f"tiny_pairs/{name}"
    for split in task.SPLITS:  # the data files are the task's seed-0 rows
        assert [r.question for r in read_rows(pair_dir(name) / "data" / f"{split}.jsonl")] == [
            r["question"] for r in task.rows(0, split, task=name)
        ]


@pytest.fixture
def pair_copy(tmp_path, monkeypatch):
    """A copy of the shipped arith pair that lay_out reads instead of the real one."""
    copy = tmp_path / "shipped" / "arith"
    shutil.copytree(pair_dir("arith"), copy)
    monkeypatch.setattr(shipped_pair, "pair_dir", lambda name: tmp_path / "shipped" / name)
    return copy


def test_mismatches_name_each_changed_missing_or_unlisted_file(pair_copy):
    (pair_copy / "data" / "heldout.jsonl").write_text("{}\n")
    (pair_copy / "target" / "config.json").unlink()
    (pair_copy / "notes.txt").write_text("x")
    assert sorted(mismatches(pair_copy)) == [
        "data/heldout.jsonl: sha256 differs",
        "notes.txt: not in SHA256SUMS",
        "target/config.json: missing",
    ]


def test_lay_out_refuses_a_pair_that_does_not_match_its_hashes(pair_copy, tmp_path):
    weights = pair_copy / "explorer" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(UserError, match="explorer/model.safetensors: sha256 differs"):
        lay_out("arith", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_lay_out_copies_every_file_and_refuses_to_overwrite_without_force(tmp_path):
    manifest = lay_out("arith", tmp_path)
    assert manifest["task"] == "arith"
    assert mismatches(tmp_path) == []
    assert read_hashes(tmp_path) == read_hashes(pair_dir("arith"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [HASHES, "build.json", "data", "explorer", "target"]
    (tmp_path / "target" / "config.json").write_text("{}")
    with pytest.raises(UserError, match="--force"):
        lay_out("arith", tmp_path)
    assert (tmp_path / "target" / "config.json").read_text() == "{}"  # refused: nothing touched
    lay_out("arith", tmp_path, force=True)
    assert mismatches(tmp_path) == []


def test_an_unknown_task_names_the_shipped_ones(tmp_path):
    with pytest.raises(UserError, match="unknown task 'algebra'.*arith, transfer"):
        lay_out("algebra", tmp_path)


@pytest.mark.slow
def test_shipped_weights_are_the_ones_whose_accuracy_the_build_recorded(tiny_models):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recorded = {m["name"]: m for m in json.loads((tiny_models / "build.json").read_text())["models"]}
    for name in ("explorer", "target"):
        model = AutoModelForCausalLM.from_pretrained(tiny_models / name)
        tokenizer = AutoTokenizer.from_pretrained(tiny_models / name)
        measured = accuracy_by_family(model, tokenizer, task.problems(0, "train", 200), temperature=1.0, seed=0)
        assert abs(measured["all"] - recorded[name]["train_accuracy"]["all"]) <= 0.1
