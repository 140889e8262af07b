"""Validation during training, the engine-neutral part: which steps validate, and val.jsonl's rows."""

from __future__ import annotations

import json

import pytest

from s2lpo_cli.evaluation.validation import (
    VAL_KEYS,
    append_row,
    entry_name,
    eval_settings,
    is_file_entry,
    keep_through,
    val_row,
    validation_steps,
)
from s2lpo_cli.recipe import ValidationConfig, load_recipe


@pytest.mark.parametrize(
    ("entry", "is_file", "name"),
    [
        ("aime24", False, "aime24"),
        ("held.json", False, "held.json"),  # neither a path nor a jsonl/parquet name: a registered name
        ("held.jsonl", True, "held"),
        ("data/held.out.parquet", True, "held.out"),
        ("data/aime24", True, "aime24"),
    ],
)
def test_a_benchmark_entry_is_a_registered_name_or_a_file_named_without_its_suffix(entry, is_file, name):
    assert is_file_entry(entry) is is_file and entry_name(entry) == name


def test_validation_runs_s2lpo_eval_with_the_sections_settings_and_the_runs_response_budget(tmp_path, monkeypatch):
    """The mode's sampling (think) with each of the section's overrides; files resolved from the cwd."""
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe("tiny", [
        "models.target=some/target", "rollout.max_response_tokens=48", "validation.every=2",
        "validation.benchmarks=[aime24, data/held.jsonl]", "validation.data_dir=bench", "validation.limit=5",
        "validation.mode=think", "validation.k=3", "validation.seed=9", "validation.temperature=0.5",
        "validation.top_p=0.9", "validation.top_k=-1", "validation.presence_penalty=0.25",
        "validation.instruction=Box it.",
    ])
    settings = eval_settings(recipe)
    assert settings.to_dict() == {
        "model": "some/target", "mode": "think", "k": 3,
        "sampling": {"temperature": 0.5, "top_p": 0.9, "top_k": -1, "presence_penalty": 0.25, "max_tokens": 48},
        "seed": 9, "benchmarks": {"aime24": None, "held": str(tmp_path / "data" / "held.jsonl")},
        "data_dir": str(tmp_path / "bench"), "limit": 5, "pass_ks": [1, 2, 4, 8, 16], "instruction": "Box it.",
    }


@pytest.mark.parametrize(
    ("every", "before_train", "total", "steps"),
    [
        (2, True, 5, [0, 2, 4, 5]),  # every 2nd, and the last
        (2, False, 5, [2, 4, 5]),
        (3, True, 6, [0, 3, 6]),  # the last is a multiple: once
        (1, False, 3, [1, 2, 3]),
        (4, True, 2, [0, 2]),  # fewer steps than `every`: the last only
        (0, True, 5, []),  # off
    ],
)
def test_validation_steps(every, before_train, total, steps):
    assert validation_steps(ValidationConfig(every=every, before_train=before_train), total) == steps


SUMMARY_ENTRY = {"n_questions": 5, "k": 2, "pass@1": 0.3, "pass@k": {"1": 0.3, "2": 0.5}, "accuracy": 0.3,
                 "mean_length": 11.5, "truncated_rate": 0.1, "timeouts": 0, "grading_rules_version": 3,
                 "spec_version": None}


def test_a_row_is_the_summary_entry_with_step_benchmark_mode_and_time_in_val_keys_order():
    row = val_row(7, "heldout", {**SUMMARY_ENTRY, "skipped_questions": 1}, "nothink", 1.5)
    assert list(row) == list(VAL_KEYS)
    assert row == {"step": 7, "benchmark": "heldout", **SUMMARY_ENTRY, "mode": "nothink", "seconds": 1.5}


def test_keep_through_cuts_later_steps_and_a_torn_line(tmp_path):
    path = tmp_path / "val.jsonl"
    rows = [{"step": s, "benchmark": "b", "pass@1": s / 10} for s in (0, 1, 2, 3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 4, "bench')
    assert keep_through(path, 2) == rows[:3]
    assert path.read_text() == (
        '{"step": 0, "benchmark": "b", "pass@1": 0.0}\n'
        '{"step": 1, "benchmark": "b", "pass@1": 0.1}\n'
        '{"step": 2, "benchmark": "b", "pass@1": 0.2}\n'
    )
    assert keep_through(tmp_path / "none.jsonl", 2) == [] and not (tmp_path / "none.jsonl").exists()


def test_append_row_writes_the_val_keys_in_order_and_nothing_else(tmp_path):
    path = tmp_path / "val.jsonl"
    row = {"extra": 1, **val_row(0, "b", SUMMARY_ENTRY, "think", 2.0)}
    append_row(path, row)
    append_row(path, {**row, "step": 1})
    lines = path.read_text().splitlines()
    assert [list(json.loads(line)) for line in lines] == [list(VAL_KEYS)] * 2
    assert lines[1].startswith('{"step": 1, "benchmark": "b", "n_questions": 5, "k": 2, "pass@1": 0.3, ')
