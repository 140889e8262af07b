"""The replay buffer verl builds from our overrides stops a run whose groups are not what the schedule planned.

verl's own `PPOTrainer._build_replay_buffer` builds it from the composed config; TransferQueue's
metadata calls are replaced by an in-memory store holding what verl's agent-loop workers write
there (prompt status tags, one `{uid}_{session}_{index}` trajectory tag per session).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.schedule import PhysicalStep, step_plan
from s2lpo_cli.verl_ext.command import VerlPaths, verl_overrides
from s2lpo_cli.verl_ext.sampler import GroupPlanError, check_step, group_counts

from .conftest import compose_verl, replay_buffer

pytestmark = pytest.mark.verl
PROMPTS = 3


def _recipe(*extra: str):
    return load_recipe("tiny", ["engine.kind=verl", "engine.gpus_per_node=1", "engine.tensor_parallel_size=1",
                                "schedule.total_steps=40", "schedule.anneal_steps=4", *extra])


def _buffer(recipe, **config_changes):
    """The replay buffer verl's trainer builds for this recipe's command."""
    cfg = compose_verl(verl_overrides(recipe, VerlPaths(Path("/RUN/verl"))) + [f"{k}={v}" for k, v in config_changes.items()])
    return replay_buffer(cfg)


def test_complete_groups_are_sampled_with_their_actual_counts(tq_store):
    from s2lpo_cli.verl_ext.sampler import PlannedGroupReplayBuffer

    recipe = _recipe()
    buffer = _buffer(recipe)
    assert type(buffer) is PlannedGroupReplayBuffer
    phys = step_plan(recipe)[1]  # global step 2 of tiny: alpha = 2/3, G_w = 6, G_s = 2
    assert (phys.explorer, phys.target) == (6, 2)
    for i in range(PROMPTS):
        tq_store.add_group(f"u{i}", 2, range(8))
    batch, metrics = buffer.sample(global_steps=2, partition_id="train", batch_size=PROMPTS)
    assert len(batch.keys) == PROMPTS * 8
    assert metrics["s2lpo/explorer_responses"] == PROMPTS * 6 and metrics["s2lpo/target_responses"] == PROMPTS * 2
    assert metrics["s2lpo/explorer_per_group"] == 6 and metrics["s2lpo/target_per_group"] == 2
    assert metrics["s2lpo/target_response_tokens"] == PROMPTS * (106 + 107)
    assert metrics["s2lpo/explorer_response_tokens"] == PROMPTS * sum(100 + s for s in range(6))


def test_verl_alone_trains_on_a_failed_group_ours_stops(tq_store, monkeypatch):
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

    from s2lpo_cli.verl_ext.sampler import GroupPlanError

    def fill():
        tq_store.partitions["train"].clear()
        tq_store.add_group("u0", 2, range(8))
        tq_store.add_group("u1", 2, [0, 1, 2, 3, 4, 6, 7], status="failure")  # explorer session 5 raised
        tq_store.add_group("u2", 2, range(8))

    recipe = _recipe()
    fill()
    # verl's default sync buffer: the failed group goes into the batch with 7 responses, silently
    monkeypatch.setattr(ReplayBuffer, "_wait_for_next_poll", lambda *a: pytest.fail("verl waited"))
    plain = _buffer(recipe, **{"trainer.v1.sampler.custom_sampler.path": "null"})
    batch, _ = plain.sample(global_steps=2, partition_id="train", batch_size=PROMPTS)
    assert type(plain) is ReplayBuffer and len(batch.keys) == 3 * 8 - 1
    fill()
    with pytest.raises(GroupPlanError, match="^" + re.escape(
            "global step 2: 1 prompt group(s) failed in the agent loop (e.g. uid u1); verl would train on the "
            "sessions that survived, so a group would lose responses and GRPO would normalize over the rest. The "
            "cause is in the agent-loop worker log ('Error in _run_prompt')") + "$"):
        _buffer(recipe).sample(global_steps=2, partition_id="train", batch_size=PROMPTS)


def test_a_failed_validation_group_does_not_stop_the_run(tq_store):
    """Validation groups are verl's single-turn loop, outside the plan: verl keeps what they produced."""
    tq_store.partitions["val"] = {}
    for uid, status in (("v0", "finished"), ("v1", "failure")):
        tq_store.partitions["val"][uid] = {"is_prompt": True, "status": status, "global_steps": 0}
        tq_store.partitions["val"][f"{uid}_0_0"] = {"status": "success", "response_len": 9, "global_steps": 0}
    batch, _ = _buffer(_recipe()).sample(global_steps=0, partition_id="val", batch_size=2)
    assert sorted(batch.keys) == ["v0_0_0", "v1_0_0"]


def test_a_group_that_lost_a_session_without_failing_is_refused(tq_store):
    from s2lpo_cli.verl_ext.sampler import GroupPlanError

    tq_store.add_group("u0", 2, range(8))
    tq_store.add_group("u1", 2, range(7))  # a target session gave no output
    tq_store.add_group("u2", 2, range(8))
    with pytest.raises(GroupPlanError, match=r"^global step 2 \(logical step 2, mixed\): the plan is 3 prompt groups of "
                       r"6 explorer \+ 2 target.*uid u1: 6 explorer, 1 target"):
        _buffer(_recipe()).sample(global_steps=2, partition_id="train", batch_size=PROMPTS)


def test_split_mode_checks_each_phase_against_its_own_group(tq_store):
    from s2lpo_cli.verl_ext.sampler import GroupPlanError

    recipe = _recipe("schedule.mode=split")
    plan = step_plan(recipe)
    assert (plan[1].phase, plan[1].explorer, plan[2].phase, plan[2].target) == ("explorer", 6, "target", 3)
    for i in range(PROMPTS):
        tq_store.add_group(f"e{i}", 2, range(6))
    _, metrics = _buffer(recipe).sample(global_steps=2, partition_id="train", batch_size=PROMPTS)
    assert metrics["s2lpo/explorer_responses"] == PROMPTS * 6 and metrics["s2lpo/target_responses"] == 0
    for i in range(PROMPTS):
        tq_store.add_group(f"t{i}", 3, range(8))  # all G sessions ran: 5 beyond the target phase's 3
    with pytest.raises(GroupPlanError, match=r"uid t0: 0 explorer, 3 target, 5 other\)"):
        _buffer(recipe).sample(global_steps=3, partition_id="train", batch_size=PROMPTS)


# verl's uids are uuid4 strings; these hold underscores to show that only the last two parts of a key are
# the session and the index
MIXED_2_1 = PhysicalStep(step=2, phase="mixed", explorer=2, target=1)


def _keys(uid: str, sessions) -> list[str]:
    return [f"{uid}_{s}_0" for s in sessions]


def test_group_counts_by_session_number():
    keys = _keys("p_a", [0, 1, 2]) + _keys("p_b", [0, 1, 2, 3, 5])
    assert group_counts(keys, MIXED_2_1) == {"p_a": (2, 1, 0), "p_b": (2, 1, 2)}


def test_check_step_names_the_first_off_plan_group_or_the_missing_ones():
    keys = _keys("p_a", [0, 1, 2]) + _keys("p_b", [0, 1, 2, 3])
    with pytest.raises(GroupPlanError, match=re.escape(
            "global step 7 (logical step 2, mixed): the plan is 2 prompt groups of 2 explorer + 1 target responses, "
            "verl sampled 2 groups, 1 of them off plan (e.g. uid p_b: 2 explorer, 1 target, 1 other). An agent-loop "
            "session failed or produced no output; see the agent-loop worker log")):
        check_step(keys, [{}] * len(keys), MIXED_2_1, 7, 2)
    with pytest.raises(GroupPlanError, match=re.escape(
            "verl sampled 1 groups, 0 of them off plan (e.g. uid -: 0 explorer, 0 target, 0 other). An agent-loop")):
        check_step(keys[:3], [{}] * 3, MIXED_2_1, 7, 2)


def test_check_step_metrics_by_hand():
    """Explorer sessions 0 and 1: 10 + 20 + 5 + 0 tokens (a tag without response_len counts none); target: 30 + 7."""
    keys = _keys("p_a", [0, 1, 2]) + _keys("p_b", [0, 1, 2])
    tags = [{"response_len": 10}, {"response_len": 20}, {"response_len": 30}, {"response_len": 5}, {},
            {"response_len": 7}]
    assert check_step(keys, tags, MIXED_2_1, 7, 2) == {
        "s2lpo/groups": 2.0, "s2lpo/explorer_per_group": 2.0, "s2lpo/target_per_group": 1.0,
        "s2lpo/explorer_responses": 4.0, "s2lpo/target_responses": 2.0,
        "s2lpo/explorer_response_tokens": 35.0, "s2lpo/target_response_tokens": 37.0,
    }


def test_the_first_and_last_global_steps_are_sampled_and_a_step_beyond_is_refused(tq_store):
    """tiny with 40 steps (mixed): step 1 is 8 explorer responses per group, step 40 is 8 target ones."""
    recipe = _recipe()
    for step in (1, 40, 41):
        tq_store.partitions["train"].clear()
        for i in range(PROMPTS):
            tq_store.add_group(f"s{step}u{i}", step, range(8))
        if step == 41:
            with pytest.raises(GroupPlanError, match=r"^global step 41 is outside the run's 40 steps$"):
                _buffer(recipe).sample(global_steps=step, partition_id="train", batch_size=PROMPTS)
            continue
        _, metrics = _buffer(recipe).sample(global_steps=step, partition_id="train", batch_size=PROMPTS)
        assert (metrics["s2lpo/explorer_responses"], metrics["s2lpo/target_responses"]) == (
            (PROMPTS * 8, 0) if step == 1 else (0, PROMPTS * 8))
