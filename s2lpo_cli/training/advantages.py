"""GRPO outcome advantages: each response's reward against its own group.

A = (r - mean_group) / (std_group + eps), or r - mean_group without std normalization (Dr. GRPO).
The std is the unbiased sample std (as verl's `compute_grpo_outcome_advantage`). A group whose rewards
are all equal carries no signal: its advantages are exactly zero, and it is counted. A group of one
response is such a group too (verl would give it A = r; here it gives 0, the group-relative meaning).
`nonzero_fraction_by_family` splits the groups that do carry signal by the family of their prompt.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GroupAdvantages:
    advantages: torch.Tensor  # (n_responses,)
    n_groups: int
    zero_variance_ids: frozenset  # the group ids whose rewards are all equal (advantage 0)

    @property
    def zero_variance_groups(self) -> int:
        return len(self.zero_variance_ids)

    @property
    def zero_variance_fraction(self) -> float:
        return self.zero_variance_groups / self.n_groups if self.n_groups else 0.0


def grpo_advantages(
    rewards: torch.Tensor, group_ids: Sequence, *, norm_by_std: bool = True, eps: float = 1e-6
) -> GroupAdvantages:
    """Outcome advantages for a flat batch of responses; `group_ids[i]` names the group of response i."""
    rewards = rewards.detach().to(torch.float32)
    if rewards.ndim != 1 or len(group_ids) != rewards.shape[0]:
        raise ValueError(f"rewards must be 1-D with one group id each, got {tuple(rewards.shape)} and {len(group_ids)} ids")
    members: dict = {}
    for i, gid in enumerate(group_ids):
        members.setdefault(gid, []).append(i)
    advantages = torch.zeros_like(rewards)
    zero_var = set()
    for gid, idx in members.items():
        scores = rewards[idx]
        if len(idx) == 1 or bool((scores == scores[0]).all()):
            zero_var.add(gid)
            continue
        centred = scores - scores.mean()
        advantages[idx] = centred / (scores.std() + eps) if norm_by_std else centred
    return GroupAdvantages(advantages=advantages, n_groups=len(members), zero_variance_ids=frozenset(zero_var))


def nonzero_fraction_by_family(adv: GroupAdvantages, family_of: Mapping[Hashable, str | None]) -> dict[str, float] | None:
    """{family: share of that family's groups with non-zero advantage}, families sorted; `family_of` maps every
    group id to its prompt's family. Groups without a family are left out; None when no group has one."""
    groups: dict[str, list[bool]] = {}
    for gid, family in family_of.items():
        if family is not None:
            groups.setdefault(family, []).append(gid not in adv.zero_variance_ids)
    return {family: sum(signal) / len(signal) for family, signal in sorted(groups.items())} or None
