"""The policy loss: PPO clipped surrogate, KL to the frozen initial model, entropy bonus, off-policy correction.

Every tensor is (responses, response_tokens) with a 0/1 `mask` of real tokens. The formulas follow verl's
`core_algos` (vanilla policy loss with dual clip, `kl_penalty`, `agg_loss`) so both engines optimize the
same objective; tests feed the same tensors to both. Aggregation takes the token / sequence count of the
whole mini-batch so that micro-batches summed by gradient accumulation give the mini-batch loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

LossAgg = Literal["token-mean", "seq-mean-token-sum", "seq-mean-token-mean"]
Correction = Literal["none", "truncated_is", "luffy"]
DUAL_CLIP_C = 3.0  # verl's clip_ratio_c: bound on the loss of negative-advantage tokens


@dataclass(frozen=True)
class LossConfig:
    clip_low: float = 0.2
    clip_high: float = 0.2
    loss_agg: LossAgg = "token-mean"
    kl_coef: float = 0.0  # 0 disables the KL term
    kl_type: str = "low_var_kl"
    entropy_coef: float = 0.0
    correction: Correction = "none"
    is_threshold: float = 2.0
    luffy_gamma: float = 0.1

    @classmethod
    def from_recipe(cls, recipe) -> LossConfig:
        o, p = recipe.optim, recipe.off_policy
        return cls(
            clip_low=o.clip_ratio_low,
            clip_high=o.clip_ratio_high,
            loss_agg=o.loss_agg,
            kl_coef=o.kl.coef if o.kl.enabled else 0.0,
            kl_type=o.kl.type,
            entropy_coef=o.entropy_coef,
            correction=p.correction,
            is_threshold=p.is_threshold,
            luffy_gamma=p.luffy_gamma,
        )


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) from logits (..., V) and targets (...)."""
    return target_logprobs(torch.log_softmax(logits.float(), dim=-1), targets)


def target_logprobs(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The targets' entries of log-softmax output (..., V)."""
    return log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    return entropy_from_log_probs(torch.log_softmax(logits.float(), dim=-1))


def entropy_from_log_probs(log_probs: torch.Tensor) -> torch.Tensor:
    """-sum p log p from log-softmax output, which is finite: a p that underflows to 0 adds 0."""
    return -(log_probs.exp() * log_probs).sum(-1)


def kl_estimate(logp: torch.Tensor, ref_logp: torch.Tensor, kind: str = "low_var_kl") -> torch.Tensor:
    """Per-token KL(pi || ref) estimators of Schulman's note; low_var_kl is k3, clamped as verl does."""
    if kind == "kl":
        return logp - ref_logp
    if kind == "abs":
        return (logp - ref_logp).abs()
    if kind == "mse":
        return 0.5 * (logp - ref_logp).square()
    if kind == "low_var_kl":
        log_ratio = torch.clamp(ref_logp - logp, min=-20, max=20)
        return torch.clamp(torch.exp(log_ratio) - log_ratio - 1, min=-10, max=10)
    raise ValueError(f"unknown KL estimator {kind!r}; use low_var_kl, kl, mse or abs")


def aggregate(
    loss_mat: torch.Tensor,
    mask: torch.Tensor,
    mode: LossAgg,
    *,
    num_tokens: float | torch.Tensor | None = None,
    num_seqs: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """Reduce a (B, T) loss to a scalar. `num_tokens` / `num_seqs` are the mini-batch totals (default: this batch's)."""
    if mode == "token-mean":
        denom = mask.sum() if num_tokens is None else num_tokens
        return (loss_mat * mask).sum() / denom
    seq_tokens = mask.sum(-1)
    if mode == "seq-mean-token-sum":
        per_seq = (loss_mat * mask).sum(-1)
    elif mode == "seq-mean-token-mean":
        per_seq = (loss_mat * mask).sum(-1) / (seq_tokens + 1e-8)
    else:
        raise ValueError(f"unknown loss aggregation {mode!r}")
    seq_mask = (seq_tokens > 0).float()
    denom = seq_mask.sum() if num_seqs is None else num_seqs
    return (per_seq * seq_mask).sum() / denom


def truncated_is_weights(
    old_logp: torch.Tensor, explorer_logp: torch.Tensor, explorer_rows: torch.Tensor, threshold: float
) -> torch.Tensor:
    """Per-token weight target/explorer, clipped above at `threshold`, on explorer rows; 1 on target rows."""
    log_w = torch.clamp(old_logp - explorer_logp, min=-20.0, max=20.0)
    w = torch.clamp(torch.exp(log_w), max=threshold)
    return torch.where(explorer_rows.bool().unsqueeze(-1), w, torch.ones_like(w)).detach()


@dataclass
class PolicyLoss:
    loss: torch.Tensor  # scalar, aggregated
    token_loss: torch.Tensor  # (B, T) before aggregation
    clipped: torch.Tensor  # (B, T) bool: the clipped branch was taken (verl's pg_clipfrac)


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float,
    clip_high: float,
    loss_agg: LossAgg = "token-mean",
    weights: torch.Tensor | None = None,
    shaped_rows: torch.Tensor | None = None,
    luffy_gamma: float = 0.1,
    num_tokens: float | torch.Tensor | None = None,
    num_seqs: float | torch.Tensor | None = None,
) -> PolicyLoss:
    """PPO clipped surrogate with low/high clip and dual clip for A < 0 (verl's vanilla loss).

    `weights` multiply the per-token loss (truncated importance sampling). `shaped_rows` (B,) marks
    off-policy rows whose loss is LUFFY's policy shaping -A * p/(p + gamma), unclipped, p = exp(logp).
    """
    if advantages.ndim == 1:
        advantages = advantages.unsqueeze(-1).expand_as(logp)
    log_ratio = torch.clamp(logp - old_logp, min=-20.0, max=20.0)
    ratio = torch.exp(log_ratio)
    loss1 = -advantages * ratio
    loss2 = -advantages * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    clipped_loss = torch.maximum(loss1, loss2)
    clipped = loss2 > loss1
    dual = torch.minimum(-advantages * DUAL_CLIP_C, clipped_loss)
    token_loss = torch.where(advantages < 0, dual, clipped_loss)
    if shaped_rows is not None:
        rows = shaped_rows.bool().unsqueeze(-1)
        prob = torch.exp(logp)
        token_loss = torch.where(rows, -advantages * prob / (prob + luffy_gamma), token_loss)
        clipped = clipped & ~rows
    if weights is not None:
        token_loss = token_loss * weights
    loss = aggregate(token_loss, mask, loss_agg, num_tokens=num_tokens, num_seqs=num_seqs)
    return PolicyLoss(loss=loss, token_loss=token_loss, clipped=clipped)


@dataclass
class LossTerms:
    total: torch.Tensor  # what backward() is called on
    kl: torch.Tensor | None  # per-token KL (B, T), detached, when a reference was given
    entropy: torch.Tensor | None  # per-token entropy (B, T), detached, when given
    clipped: torch.Tensor  # (B, T) bool
    weights: torch.Tensor | None  # (B, T) importance weights (truncated_is), detached


def ppo_loss(
    cfg: LossConfig,
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    explorer_rows: torch.Tensor | None = None,
    explorer_logp: torch.Tensor | None = None,
    ref_logp: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
    num_tokens: float | torch.Tensor | None = None,
    num_seqs: float | torch.Tensor | None = None,
) -> LossTerms:
    """pg + kl_coef * KL(pi || ref) - entropy_coef * H, each aggregated with `cfg.loss_agg`.

    `explorer_rows` (B,) marks explorer responses; `explorer_logp` holds their stored log-probs (any value on
    target rows). `entropy` is the per-token entropy of the live policy (with grad when entropy_coef > 0).
    """
    weights = None
    shaped = None
    if explorer_rows is not None and bool(explorer_rows.any()):
        if cfg.correction == "truncated_is":
            if explorer_logp is None:
                raise ValueError("truncated_is needs the explorer's stored log-probs")
            weights = truncated_is_weights(old_logp, explorer_logp, explorer_rows, cfg.is_threshold)
        elif cfg.correction == "luffy":
            shaped = explorer_rows
    agg = dict(num_tokens=num_tokens, num_seqs=num_seqs)
    pg = policy_loss(
        logp, old_logp, advantages, mask, clip_low=cfg.clip_low, clip_high=cfg.clip_high, loss_agg=cfg.loss_agg,
        weights=weights, shaped_rows=shaped, luffy_gamma=cfg.luffy_gamma, **agg,
    )
    total = pg.loss
    kl_mat = None
    if ref_logp is not None:
        kl_mat = kl_estimate(logp, ref_logp, cfg.kl_type)
        if cfg.kl_coef:
            total = total + cfg.kl_coef * aggregate(kl_mat, mask, cfg.loss_agg, **agg)
        kl_mat = kl_mat.detach()
    if entropy is not None and cfg.entropy_coef:
        total = total - cfg.entropy_coef * aggregate(entropy, mask, cfg.loss_agg, **agg)
    return LossTerms(
        total=total,
        kl=kl_mat,
        entropy=None if entropy is None else entropy.detach(),
        clipped=pg.clipped,
        weights=weights,
    )
