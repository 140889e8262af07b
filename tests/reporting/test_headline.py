import pytest
from reporting_fixtures import write_training_run

from s2lpo_cli.reporting.smoothing import (
    FINAL_LAST_K,
    SMOOTH_WINDOW,
    headline,
    rolling_mean,
    smoothing_window,
)
from s2lpo_cli.reporting.summary import training_summary
from s2lpo_cli.reporting.training_log import load_training_log


def test_rolling_mean_is_trailing_and_short_at_the_start():
    assert rolling_mean([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert rolling_mean([2.0, 4.0], 1) == [2.0, 4.0]
    assert smoothing_window(30) == 1 and smoothing_window(31) == SMOOTH_WINDOW


def test_explorer_only_steps_give_no_headline_value(tmp_path):
    """The explorer does better than the target: steps with G_s = 0 must not become the run's best or final."""
    run = write_training_run(tmp_path / "s2l", total_steps=6, anneal_steps=4, group_size=8,
                             reward_at=lambda t: 0.9 if t == 1 else 0.1)
    summary = training_summary(load_training_log(run))
    assert [s["g_s"] for s in summary["steps"]][:2] == [0, 2]
    # target part = reward - 0.1 = 0.0 on every step with target responses; step 1 (0.9, explorer only) is out
    assert summary["best_target_reward"] == pytest.approx(0.0) and summary["best_target_step"] != 1
    assert summary["final_target_reward"] == pytest.approx(0.0)
    assert summary["target_steps"] == 5
    # the explorer part and the all-responses reward stay visible, under their own names
    explored = [s["step"] for s in summary["steps"] if s["g_w"] > 0]
    assert explored[0] == 1 and len(explored) >= 2
    assert summary["explorer_steps"] == len(explored)
    assert summary["explorer_reward_mean"] == pytest.approx((1.1 + 0.3 * (len(explored) - 1)) / len(explored))


def test_a_run_without_any_target_response_has_no_headline():
    steps = [{"step": t, "g_w": 8, "g_s": 0, "reward_mean": 0.4, "reward_explorer": 0.4, "reward_target": None}
             for t in (1, 2, 3)]
    h = headline(steps)
    assert h["final_target_reward"] is None and h["best_target_reward"] is None and h["best_target_step"] is None
    assert h["final_k"] == 0 and h["explorer_reward_mean"] == pytest.approx(0.4)


def test_long_run_best_is_smoothed_and_final_is_the_last_k_mean():
    # 60 target steps: a single lucky spike at step 20 and a steady climb at the end
    rewards = {t: (0.95 if t == 20 else 0.2 + 0.005 * t) for t in range(1, 61)}
    steps = [{"step": t, "g_w": 0, "g_s": 8, "reward_mean": r, "reward_explorer": None, "reward_target": r}
             for t, r in rewards.items()]
    h = headline(steps)
    assert h["smoothing_window"] == SMOOTH_WINDOW and h["final_k"] == FINAL_LAST_K
    assert h["final_target_reward"] == pytest.approx(sum(rewards[t] for t in range(51, 61)) / 10)
    # the spike (0.95) is not the best: the best window is the last one, ending at step 60
    assert h["best_target_step"] == 60
    assert h["best_target_reward"] == pytest.approx(h["final_target_reward"])


def test_plotted_parts_only_where_the_group_had_them():
    from s2lpo_cli.reporting.plots import _series

    steps = [{"step": 1, "g_w": 8, "g_s": 0, "reward_explorer": 0.4, "reward_target": 0.0, "reward_mean": 0.4},
             {"step": 2, "g_w": 0, "g_s": 8, "reward_explorer": 0.0, "reward_target": 0.3, "reward_mean": 0.3}]
    run = {"training": {"steps": steps}}
    assert _series(run, "reward_explorer") == ([1], [0.4])
    assert _series(run, "reward_target") == ([2], [0.3])
    assert _series(run, "reward_mean") == ([1, 2], [0.4, 0.3])
