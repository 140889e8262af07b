import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s2lpo_cli.schedule import PhysicalStep, alpha, explorer_count, physical_steps, plan, plan_step, step_plan


def test_reference_numbers_g16_n8():
    assert [explorer_count(t, 8, 16) for t in range(1, 11)] == [16, 14, 12, 10, 7, 5, 3, 0, 0, 0]


def test_alpha_endpoints():
    assert alpha(1, 8) == 1.0
    assert alpha(8, 8) == 0.0
    assert alpha(9, 8) == 0.0


def test_n0_is_plain_grpo_and_n1_is_one_explorer_step():
    assert [p.explorer for p in plan(3, 0, 16)] == [0, 0, 0]
    assert [p.explorer for p in plan(3, 1, 16)] == [16, 0, 0]


def test_exact_ceiling_has_no_float_error():
    # alpha * G is an exact integer here (G=14, N=8: 14 * 5/7 = 10); floats could give 10.000000001 -> 11.
    assert explorer_count(3, 8, 14) == 10
    assert explorer_count(4, 8, 28) == 16


def test_split_mode_reproduces_reference_scripts():
    steps = plan(9, 8, 16, "split")
    assert [(p.phase, p.group_size) for p in steps[0].physical] == [("explorer", 16)]
    assert [(p.phase, p.group_size) for p in steps[1].physical] == [("explorer", 14), ("target", 3)]
    assert steps[1].explorer + steps[1].target == 17
    assert [(p.phase, p.group_size) for p in steps[8].physical] == [("target", 16)]
    assert len(physical_steps(9, 8, 16, "split")) == 1 + 6 * 2 + 1 + 1  # t=1 explorer only; t=2..7 both; t=8 (alpha 0) and t=9 target only


def test_unknown_mode_and_bad_step():
    with pytest.raises(ValueError, match="unknown mode 'interleaved'; use 'mixed' or 'split'"):
        plan_step(1, 8, 16, "interleaved")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step counts from 1, got 0"):
        alpha(0, 8)


def test_physical_steps_by_hand_mixed_is_the_default():
    # G=4, N=2: alpha 1, 0, 0
    mixed = [PhysicalStep(1, "mixed", 4, 0), PhysicalStep(2, "mixed", 0, 4), PhysicalStep(3, "mixed", 0, 4)]
    assert physical_steps(3, 2, 4) == mixed
    assert plan_step(2, 2, 4).physical == (mixed[1],)


def test_split_physical_steps_by_hand():
    # G=4, N=5: alpha 1, 3/4, 1/2, 1/4, 0; G_w = 4, 3, 2, 1, 0 and the target step ceil((1 - alpha) * 4)
    assert physical_steps(5, 5, 4, "split") == [
        PhysicalStep(1, "explorer", 4, 0),
        PhysicalStep(2, "explorer", 3, 0), PhysicalStep(2, "target", 0, 1),
        PhysicalStep(3, "explorer", 2, 0), PhysicalStep(3, "target", 0, 2),
        PhysicalStep(4, "explorer", 1, 0), PhysicalStep(4, "target", 0, 3),
        PhysicalStep(5, "target", 0, 4),
    ]


def test_a_recipes_step_plan_is_its_schedule_flattened():
    from s2lpo_cli.recipe import load_recipe

    recipe = load_recipe("tiny", ["schedule.total_steps=3", "schedule.anneal_steps=2", "schedule.mode=split",
                                  "rollout.group_size=4"])
    assert step_plan(recipe) == [PhysicalStep(1, "explorer", 4, 0), PhysicalStep(2, "target", 0, 4),
                                 PhysicalStep(3, "target", 0, 4)]


@given(st.integers(2, 64), st.integers(0, 40), st.integers(1, 60))
def test_schedule_properties(g, n, total):
    steps = plan(total, n, g)
    for p in steps:
        assert p.explorer + p.target == g
        assert 0 <= p.explorer <= g
        assert p.explorer == math.ceil(p.alpha * g - 1e-9)
    assert all(a.explorer >= b.explorer for a, b in zip(steps, steps[1:], strict=False))
    if n >= 1:
        assert steps[0].explorer == g
    assert all(p.explorer == 0 for p in steps if p.step > n or (n >= 2 and p.step == n))
