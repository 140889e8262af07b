"""Validation during training, the engine-neutral part: which steps validate, and val.jsonl's rows."""

from __future__ import annotations

import json

import pytest

from s2lpo_cli.evaluation.validation import VAL_KEYS, keep_through, val_row, validation_steps
from s2lpo_cli.recipe import ValidationConfig


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
