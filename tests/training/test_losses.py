import math

import pytest
import torch

from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.training.losses import (
    LossConfig,
    aggregate,
    entropy_from_logits,
    kl_estimate,
    policy_loss,
    ppo_loss,
    token_logprobs,
    truncated_is_weights,
)


def _batch(seed=0, b=4, t=5):
    g = torch.Generator().manual_seed(seed)
    logp = -torch.rand(b, t, generator=g) * 2
    old = logp + (torch.rand(b, t, generator=g) - 0.5)
    adv = torch.randn(b, generator=g)
    mask = torch.ones(b, t)
    mask[1, 3:] = 0
    mask[2, 1:] = 0
    return logp, old, adv, mask


def test_ratio_one_gives_minus_mean_advantage():
    logp, _, adv, mask = _batch()
    out = policy_loss(logp, logp, adv, mask, clip_low=0.2, clip_high=0.2)
    expected = -(adv[:, None] * mask).sum() / mask.sum()
    assert torch.allclose(out.loss, expected)
    assert not out.clipped.any()


def test_clipping_low_and_high_bounds():
    logp = torch.log(torch.tensor([[1.5, 0.5]]))  # ratios 1.5 and 0.5 against old log 1 = 0
    old = torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    pos = policy_loss(logp, old, torch.tensor([1.0]), mask, clip_low=0.1, clip_high=0.3)
    # A > 0: ratio 1.5 is clipped to 1.3; ratio 0.5 keeps the smaller (unclipped) objective.
    assert torch.allclose(pos.token_loss, torch.tensor([[-1.3, -0.5]]))
    assert pos.clipped.tolist() == [[True, False]]
    neg = policy_loss(logp, old, torch.tensor([-1.0]), mask, clip_low=0.1, clip_high=0.3)
    # A < 0: ratio 0.5 is clipped to 0.9; ratio 1.5 stays (pessimistic).
    assert torch.allclose(neg.token_loss, torch.tensor([[1.5, 0.9]]))


def test_dual_clip_bounds_negative_advantage_loss():
    logp, old = torch.tensor([[3.0]]), torch.zeros(1, 1)  # ratio e^3 ~ 20
    out = policy_loss(logp, old, torch.tensor([-1.0]), torch.ones(1, 1), clip_low=0.2, clip_high=0.2)
    assert torch.allclose(out.token_loss, torch.tensor([[3.0]]))


def test_aggregation_modes_and_global_denominators():
    loss = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert aggregate(loss, mask, "token-mean").item() == pytest.approx(10 / 4)
    assert aggregate(loss, mask, "seq-mean-token-sum").item() == pytest.approx((6 + 4) / 2)
    assert aggregate(loss, mask, "seq-mean-token-mean").item() == pytest.approx((2 + 4) / 2)
    # Micro-batches with the mini-batch's totals sum to the mini-batch loss.
    parts = aggregate(loss[:1], mask[:1], "token-mean", num_tokens=4) + aggregate(
        loss[1:], mask[1:], "token-mean", num_tokens=4
    )
    assert parts.item() == pytest.approx(10 / 4)
    parts = aggregate(loss[:1], mask[:1], "seq-mean-token-mean", num_seqs=2) + aggregate(
        loss[1:], mask[1:], "seq-mean-token-mean", num_seqs=2
    )
    assert parts.item() == pytest.approx(3.0)


def test_kl_estimators():
    logp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
    k3 = kl_estimate(logp, ref, "low_var_kl")
    assert torch.allclose(k3, torch.exp(ref - logp) - (ref - logp) - 1)
    assert (k3 >= 0).all()
    assert torch.allclose(kl_estimate(logp, ref, "kl"), logp - ref)
    assert torch.allclose(kl_estimate(logp, ref, "mse"), 0.5 * (logp - ref) ** 2)
    assert torch.allclose(kl_estimate(logp, logp, "low_var_kl"), torch.zeros(2))
    with pytest.raises(ValueError, match="unknown KL estimator .*; use low_var_kl, kl, mse or abs"):
        kl_estimate(logp, ref, "nope")


def test_low_var_kl_is_clamped_as_verl_clamps_it():
    logp = torch.tensor([-1.0, -31.0, -1.0, float("-inf")])
    ref = torch.tensor([-31.0, -1.0, -1.0, -1.0])
    # log ratio ref - logp: -30 -> clamped to -20, k3 = e^-20 + 19 -> 10; +30 -> 20, e^20 - 21 -> 10;
    # 0 -> 0; +inf (a token the policy gives probability 0) -> 20 -> 10, not nan
    assert kl_estimate(logp, ref).tolist() == [10.0, 10.0, 0.0, 10.0]


def test_token_logprobs_and_entropy():
    logits = torch.randn(2, 3, 7)
    targets = torch.randint(0, 7, (2, 3))
    ref = torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0]
    assert torch.allclose(token_logprobs(logits, targets), ref, atol=1e-6)
    p = torch.softmax(logits, -1)
    assert torch.allclose(entropy_from_logits(logits), -(p * p.log()).sum(-1), atol=1e-5)


def test_truncated_is_weights_clip_and_spare_target_rows():
    old = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    explorer = torch.tensor([[-2.0, 0.5], [-5.0, -5.0]])
    w = truncated_is_weights(old, explorer, torch.tensor([1, 0]), threshold=2.0)
    assert torch.allclose(w, torch.tensor([[2.0, torch.exp(torch.tensor(-0.5)).item()], [1.0, 1.0]]))


def test_luffy_shaping_replaces_explorer_rows_and_has_shaped_gradient():
    logp = torch.log(torch.tensor([[0.5], [0.5]])).requires_grad_()
    adv = torch.tensor([1.0, 1.0])
    out = policy_loss(logp, logp.detach(), adv, torch.ones(2, 1), clip_low=0.2, clip_high=0.2,
                      shaped_rows=torch.tensor([1, 0]), luffy_gamma=0.1)
    assert out.token_loss[0, 0].item() == pytest.approx(-0.5 / 0.6)
    assert out.token_loss[1, 0].item() == pytest.approx(-1.0)
    out.loss.backward()
    # d/dlogp of -p/(p+g) = -g p / (p+g)^2 (halved by the token mean); on-policy row: -ratio.
    assert logp.grad[0, 0].item() == pytest.approx(-0.1 * 0.5 / 0.36 / 2, rel=1e-5)
    assert logp.grad[1, 0].item() == pytest.approx(-0.5, rel=1e-5)


def test_ppo_loss_combines_terms():
    logp, old, adv, mask = _batch(1)
    ref = logp - 0.3
    ent = torch.rand_like(logp)
    cfg = LossConfig(kl_coef=0.1, entropy_coef=0.01)
    terms = ppo_loss(cfg, logp, old, adv, mask, ref_logp=ref, entropy=ent)
    pg = policy_loss(logp, old, adv, mask, clip_low=0.2, clip_high=0.2).loss
    expected = pg + 0.1 * aggregate(kl_estimate(logp, ref), mask, "token-mean") - 0.01 * aggregate(ent, mask, "token-mean")
    assert torch.allclose(terms.total, expected)
    # correction none leaves explorer rows alone; truncated_is weights them.
    rows = torch.tensor([1, 0, 0, 1])
    plain = ppo_loss(LossConfig(), logp, old, adv, mask, explorer_rows=rows, explorer_logp=old)
    assert torch.allclose(plain.total, pg) and plain.weights is None
    tis = ppo_loss(LossConfig(correction="truncated_is"), logp, old, adv, mask, explorer_rows=rows,
                   explorer_logp=old - 1.0)
    assert tis.weights is not None and torch.allclose(tis.weights[0], torch.full((5,), 2.0))


def test_ppo_loss_weights_explorer_tokens_in_the_loss_itself():
    """Ratio 1; explorer token log-probs 0.5 and 0 below the target's: weights e^0.5 and 1 (threshold 2)."""
    zeros, mask = torch.zeros(2, 2), torch.ones(2, 2)
    cfg = LossConfig(correction="truncated_is", is_threshold=2.0, loss_agg="seq-mean-token-sum")
    rows, explorer_logp = torch.tensor([1, 0]), torch.tensor([[-0.5, 0.0], [0.0, 0.0]])
    terms = ppo_loss(cfg, zeros, zeros, torch.tensor([1.0, 2.0]), mask, explorer_rows=rows,
                     explorer_logp=explorer_logp, num_seqs=5)
    # token losses -A * w: [-e^0.5, -1] and [-2, -2]; each sequence's sum, over the mini-batch's 5 sequences
    assert terms.total.item() == pytest.approx((-math.exp(0.5) - 1 - 4) / 5, rel=1e-6)
    with pytest.raises(ValueError, match="^truncated_is needs the explorer's stored log-probs$"):
        ppo_loss(cfg, zeros, zeros, torch.tensor([1.0, 2.0]), mask, explorer_rows=rows)


def test_ppo_loss_shapes_explorer_rows_with_luffy_and_never_counts_them_clipped():
    """Both rows at ratio 1.5, A = 1: the target row is clipped to 1.2; the explorer row is -p / (p + 0.5)."""
    logp = torch.log(torch.tensor([[0.25], [0.6]]))
    cfg = LossConfig(correction="luffy", luffy_gamma=0.5)
    terms = ppo_loss(cfg, logp, logp - math.log(1.5), torch.tensor([1.0, 1.0]), torch.ones(2, 1),
                     explorer_rows=torch.tensor([1, 0]))
    assert terms.total.item() == pytest.approx((-0.25 / 0.75 - 1.2) / 2, rel=1e-6)
    assert terms.clipped.tolist() == [[False], [True]]


def test_ppo_loss_kl_term_takes_the_recipes_estimator_and_the_mini_batch_token_count():
    ref = torch.tensor([[-1.0, 0.0], [0.0, -2.0]])
    cfg = LossConfig(kl_coef=0.5, kl_type="mse")
    terms = ppo_loss(cfg, torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2), torch.ones(2, 2), ref_logp=ref,
                     num_tokens=10)
    # no policy-gradient term (A = 0); mse 0.5 * (0 - ref)^2 = 0.5 and 2 over the mini-batch's 10 tokens
    assert terms.total.item() == pytest.approx(0.5 * 2.5 / 10)
    assert terms.kl.tolist() == [[0.5, 0.0], [0.0, 2.0]]


def test_aggregate_leaves_empty_sequences_out_and_names_an_unknown_mode():
    loss, mask = torch.tensor([[1.0, 2.0], [5.0, 5.0]]), torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert aggregate(loss, mask, "seq-mean-token-sum").item() == 3.0  # one sequence, not two
    with pytest.raises(ValueError, match="^unknown loss aggregation 'token-sum'$"):
        aggregate(loss, mask, "token-sum")


def test_a_token_the_old_policy_gave_probability_0_costs_nothing_at_advantage_0():
    """The log ratio is clamped at 20: exp(inf) * 0 would make the loss nan (a zero-variance group has A = 0)."""
    out = policy_loss(torch.zeros(1, 1), torch.full((1, 1), float("-inf")), torch.zeros(1), torch.ones(1, 1),
                      clip_low=0.2, clip_high=0.2)
    assert out.loss.item() == 0.0


@pytest.mark.parametrize(("enabled", "coef"), [("true", 0.05), ("false", 0.0)])
def test_loss_config_takes_the_recipes_values_and_its_kl_coefficient_only_when_the_kl_is_enabled(enabled, coef):
    recipe = load_recipe("tiny", [f"optim.kl.enabled={enabled}", "optim.kl.coef=0.05", "optim.kl.type=mse",
                                  "optim.clip_ratio_low=0.1", "optim.clip_ratio_high=0.3", "off_policy.luffy_gamma=0.2"])
    cfg = LossConfig.from_recipe(recipe)
    assert (cfg.kl_coef, cfg.kl_type, cfg.clip_low, cfg.clip_high, cfg.luffy_gamma) == (coef, "mse", 0.1, 0.3, 0.2)

