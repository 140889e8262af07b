import math

import pytest
import torch

from s2lpo_cli.training.advantages import grpo_advantages, nonzero_fraction_by_family


def test_group_normalized_advantages_match_formula():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    out = grpo_advantages(rewards, [0, 0, 0, 0, 1, 1])
    g = rewards[:4]
    expected = (g - g.mean()) / (g.std() + 1e-6)
    assert torch.allclose(out.advantages[:4], expected)
    assert out.advantages[:4].sum().abs() < 1e-5
    assert (out.advantages[4:] == 0).all()
    assert out.n_groups == 2 and out.zero_variance_groups == 1
    assert out.zero_variance_fraction == pytest.approx(0.5)


def test_no_std_normalization_only_centres():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])
    out = grpo_advantages(rewards, ["a"] * 4, norm_by_std=False)
    assert torch.allclose(out.advantages, torch.tensor([0.75, -0.25, -0.25, -0.25]))


def test_singleton_group_gives_zero_and_is_counted():
    out = grpo_advantages(torch.tensor([1.0, 1.0, 0.0]), [0, 1, 1])
    assert out.advantages[0] == 0
    assert out.zero_variance_groups == 1
    assert out.advantages[1] > 0 > out.advantages[2]


def test_group_ids_need_not_be_contiguous():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0])
    a = grpo_advantages(rewards, [0, 1, 0, 1]).advantages
    assert a[0] > 0 and a[2] < 0 and a[1] < 0 and a[3] > 0


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"rewards must be 1-D with one group id each, got \(3,\) and 2 ids"):
        grpo_advantages(torch.zeros(3), [0, 0])


def test_integer_rewards_and_the_epsilon_by_hand():
    """Rewards 1, 0 as integers: mean 0.5, unbiased std sqrt(0.5), advantages +-0.5 / (sqrt(0.5) + 1e-6)."""
    out = grpo_advantages(torch.tensor([1, 0]), ["g", "g"])
    expected = 0.5 / (math.sqrt(0.5) + 1e-6)  # 0.7071054..., 2.8e-6 below 0.5 / (sqrt(0.5) - 1e-6)
    assert out.advantages.dtype == torch.float32
    assert out.advantages.tolist() == pytest.approx([expected, -expected], rel=1e-7)


def test_groups_with_signal_are_counted_per_family():
    # group 0 (add) 1,0: signal; group 1 (add) 1,1: none; group 2 (chain) 0,1: signal; group 3 (no family) 0,1
    out = grpo_advantages(torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]), [0, 0, 1, 1, 2, 2, 3, 3])
    by_family = nonzero_fraction_by_family(out, {0: "add", 1: "add", 2: "chain", 3: None})
    assert by_family == {"add": 0.5, "chain": 1.0}  # all groups together would be 3 of 4; group 3 is left out
    assert list(by_family) == ["add", "chain"]


def test_no_family_anywhere_gives_none():
    out = grpo_advantages(torch.tensor([1.0, 0.0]), [0, 0])
    assert nonzero_fraction_by_family(out, {0: None}) is None
