"""The same tensors through verl's core_algos and ours must give the same numbers."""

import numpy as np
import pytest
import torch

from s2lpo_cli.training.advantages import grpo_advantages
from s2lpo_cli.training.losses import aggregate, entropy_from_logits, kl_estimate, policy_loss

pytestmark = pytest.mark.verl
core_algos = pytest.importorskip("verl.trainer.ppo.core_algos")


def _tensors(seed, b=12, t=9):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.arange(t)[None, :] < torch.randint(1, t + 1, (b, 1), generator=g)).float()
    logp = -torch.rand(b, t, generator=g) * 3
    old = logp + (torch.rand(b, t, generator=g) - 0.5) * 0.8
    ref = logp + (torch.rand(b, t, generator=g) - 0.5)
    return mask, logp, old, ref, g


@pytest.mark.parametrize("norm", [True, False])
def test_grpo_advantages_equal_verl(norm):
    g = torch.Generator().manual_seed(0)
    rewards = torch.randint(0, 2, (16,), generator=g).float()
    rewards[12:] = 1.0  # one zero-variance group
    index = np.array([i // 4 for i in range(16)])
    mask = torch.ones(16, 5)
    token_rewards = torch.zeros(16, 5)
    token_rewards[:, -1] = rewards
    theirs, _ = core_algos.compute_grpo_outcome_advantage(token_rewards, mask, index, norm_adv_by_std_in_grpo=norm)
    ours = grpo_advantages(rewards, index.tolist(), norm_by_std=norm)
    assert torch.allclose(ours.advantages, theirs[:, 0], atol=1e-6)


@pytest.mark.parametrize("mode", ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"])
@pytest.mark.parametrize("clip", [(0.2, 0.2), (0.2, 0.28)])
def test_policy_loss_equals_verl_vanilla(mode, clip):
    from verl.workers.config import ActorConfig

    mask, logp, old, _, g = _tensors(1)
    adv = torch.randn(12, generator=g)[:, None] * mask
    config = ActorConfig(strategy="fsdp", rollout_n=4, ppo_micro_batch_size_per_gpu=4,
                         clip_ratio_low=clip[0], clip_ratio_high=clip[1], loss_agg_mode=mode)
    their_loss, metrics = core_algos.compute_policy_loss_vanilla(old, logp, adv, mask, loss_agg_mode=mode, config=config)
    ours = policy_loss(logp, old, adv, mask, clip_low=clip[0], clip_high=clip[1], loss_agg=mode)
    assert ours.loss.item() == pytest.approx(their_loss.item(), rel=1e-6, abs=1e-7)
    clip_frac = ((ours.clipped.float() * mask).sum() / mask.sum()).item()
    assert clip_frac == pytest.approx(metrics["actor/pg_clipfrac"], abs=1e-7)


def test_policy_loss_weights_equal_verl_rollout_is_weights():
    from verl.workers.config import ActorConfig

    mask, logp, old, _, g = _tensors(2)
    adv = torch.randn(12, generator=g)[:, None] * mask
    weights = torch.rand(12, 9, generator=g) * 2
    config = ActorConfig(strategy="fsdp", rollout_n=4, ppo_micro_batch_size_per_gpu=4)
    their_loss, _ = core_algos.compute_policy_loss_vanilla(old, logp, adv, mask, config=config,
                                                           rollout_is_weights=weights)
    ours = policy_loss(logp, old, adv, mask, clip_low=0.2, clip_high=0.2, weights=weights)
    assert ours.loss.item() == pytest.approx(their_loss.item(), rel=1e-6)


@pytest.mark.parametrize("kind", ["low_var_kl", "kl", "mse", "abs"])
def test_kl_penalty_equals_verl(kind):
    mask, logp, _, ref, _ = _tensors(3)
    theirs = core_algos.kl_penalty(logp, ref, kind)
    assert torch.allclose(kl_estimate(logp, ref, kind), theirs)
    for mode in ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"]:
        a = aggregate(kl_estimate(logp, ref, kind), mask, mode)
        b = core_algos.agg_loss(theirs, mask, mode)
        assert a.item() == pytest.approx(b.item(), rel=1e-6)


def test_entropy_equals_verl():
    logits = torch.randn(3, 4, 11)
    mask = torch.ones(3, 4)
    theirs = core_algos.compute_entropy_loss(logits, mask)
    ours = aggregate(entropy_from_logits(logits), mask, "token-mean")
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
