import json

import pytest
from reporting_fixtures import write_training_run

from s2lpo_cli.errors import UserError
from s2lpo_cli.reporting.summary import training_summary
from s2lpo_cli.reporting.training_log import load_training_log


def test_complete_mixed_run(tmp_path):
    run = write_training_run(tmp_path / "s2l", total_steps=6, anneal_steps=3, group_size=8,
                             reward_at=lambda t: [0.1, 0.5, 0.3, 0.4, 0.2, 0.35][t - 1])
    log = load_training_log(run)
    assert log.complete and log.notes == []
    assert [s.g_w for s in log.steps] == [8, 4, 0, 0, 0, 0]
    assert [s.g_s for s in log.steps] == [0, 4, 8, 8, 8, 8]
    summary = training_summary(log)
    # the fixture logs reward_target = reward - 0.1 on steps 2..6 (step 1 had no target response)
    assert summary["final_target_reward"] == pytest.approx((0.4 + 0.2 + 0.3 + 0.1 + 0.25) / 5)
    assert summary["final_k"] == 5 and summary["smoothing_window"] == 1
    assert (summary["best_target_reward"], summary["best_target_step"]) == (pytest.approx(0.4), 2)
    assert summary["target_tokens"] == 10 * (0 + 4 + 8 * 4)


def test_split_mode_folds_two_physical_steps_into_one(tmp_path):
    run = write_training_run(tmp_path / "split", total_steps=4, anneal_steps=3, group_size=4, mode="split")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    step2 = [r for r in rows if r["step"] == 2]
    assert [r["phase"] for r in step2] == ["explorer", "target"]
    step = load_training_log(run).steps[1]
    assert step.phases == ("explorer", "target")
    assert (step.g_w, step.g_s) == (2, 2)
    # reward_explorer only comes from the explorer phase, reward_target only from the target phase
    assert step.reward_explorer == pytest.approx(0.2 * 1 + 0.2)
    assert step.reward_target == pytest.approx(0.2 - 0.1)
    assert step.target_tokens == 10 * 2


def test_partial_run_with_half_written_last_line(tmp_path):
    run = write_training_run(tmp_path / "going", total_steps=8, anneal_steps=4, steps_done=3, final=False)
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 4, "phase": "mi')  # the trainer is writing step 4 right now
    log = load_training_log(run)
    assert not log.complete
    assert [s.step for s in log.steps] == [1, 2, 3]
    assert log.status == "partial: 3/8 steps"
    assert any("3 of 8 steps" in n for n in log.notes)
    assert any("incomplete" in n for n in log.notes)


def test_a_resumed_step_counts_once(tmp_path):
    run = write_training_run(tmp_path / "resumed", total_steps=3, anneal_steps=0)
    rows = (run / "metrics.jsonl").read_text().splitlines()
    redo = json.loads(rows[1]) | {"reward_mean": 0.99}
    (run / "metrics.jsonl").write_text("\n".join(rows[:2] + [json.dumps(redo)] + rows[2:]) + "\n")
    steps = load_training_log(run).steps
    assert [s.step for s in steps] == [1, 2, 3]
    assert steps[1].reward_mean == pytest.approx(0.99)


def test_bad_line_in_the_middle_names_file_and_line(tmp_path):
    run = write_training_run(tmp_path / "bad", total_steps=3, anneal_steps=0)
    rows = (run / "metrics.jsonl").read_text().splitlines()
    rows[1] = "{not json"
    (run / "metrics.jsonl").write_text("\n".join(rows) + "\n")
    with pytest.raises(UserError, match=r"metrics\.jsonl:2: not valid JSON"):
        load_training_log(run)


def test_step_field_is_checked(tmp_path):
    run = write_training_run(tmp_path / "nostep", total_steps=2, anneal_steps=0)
    (run / "metrics.jsonl").write_text('{"step": 1}\n{"reward_mean": 0.5}\n')
    with pytest.raises(UserError, match=r"metrics\.jsonl:2: field 'step'"):
        load_training_log(run)


def test_recipe_only_run_has_not_started(tmp_path):
    run = write_training_run(tmp_path / "fresh", total_steps=4, anneal_steps=2, final=False)
    (run / "metrics.jsonl").unlink()
    log = load_training_log(run)
    assert log.steps == [] and log.total_steps == 4
    assert any("no metrics.jsonl yet" in n for n in log.notes)
