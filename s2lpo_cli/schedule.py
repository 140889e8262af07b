"""The S2L-PO annealing schedule: alpha_t, G_w(t) explorer and G_s(t) target responses per group.

alpha_t = 1 - (t-1)/(N-1) for 1 <= t <= N and 0 after N; G_w = ceil(alpha_t * G).
N = 0 is plain GRPO (alpha = 0 from the first step). N = 1 means one explorer-only step
(alpha_1 = 1), then on-policy. Exact rational arithmetic keeps ceil() free of float error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from s2lpo_cli.recipe import Recipe

Mode = Literal["mixed", "split"]


def alpha_fraction(step: int, anneal_steps: int) -> Fraction:
    """alpha_t as an exact fraction; `step` counts from 1."""
    if step < 1:
        raise ValueError(f"step counts from 1, got {step}")
    if anneal_steps <= 0 or step > anneal_steps:
        return Fraction(0)
    if anneal_steps == 1:
        return Fraction(1)
    return 1 - Fraction(step - 1, anneal_steps - 1)


def alpha(step: int, anneal_steps: int) -> float:
    return float(alpha_fraction(step, anneal_steps))


def explorer_count(step: int, anneal_steps: int, group_size: int) -> int:
    """G_w(t) = ceil(alpha_t * G)."""
    return math.ceil(alpha_fraction(step, anneal_steps) * group_size)


@dataclass(frozen=True)
class PhysicalStep:
    """One optimizer step as it runs: how many explorer and target responses each group holds."""

    step: int  # logical step t, from 1
    phase: Literal["mixed", "explorer", "target"]
    explorer: int
    target: int

    @property
    def group_size(self) -> int:
        return self.explorer + self.target


@dataclass(frozen=True)
class StepPlan:
    """The logical step t: alpha, G_w, G_s and the physical steps that realise it."""

    step: int
    alpha: float
    explorer: int
    target: int
    physical: tuple[PhysicalStep, ...]


def plan_step(step: int, anneal_steps: int, group_size: int, mode: Mode = "mixed") -> StepPlan:
    a = alpha_fraction(step, anneal_steps)
    g_w = math.ceil(a * group_size)
    if mode == "mixed":
        g_s = group_size - g_w
        physical = (PhysicalStep(step, "mixed", g_w, g_s),)
    elif mode == "split":
        # Reference scripts: an explorer-only step with G_w, then a target-only step with
        # ceil((1 - alpha) * G); the two can sum to G + 1. Empty steps are skipped.
        g_s = math.ceil((1 - a) * group_size)
        physical = tuple(
            p
            for p in (PhysicalStep(step, "explorer", g_w, 0), PhysicalStep(step, "target", 0, g_s))
            if p.group_size > 0
        )
    else:
        raise ValueError(f"unknown mode {mode!r}; use 'mixed' or 'split'")
    return StepPlan(step=step, alpha=float(a), explorer=g_w, target=g_s, physical=physical)


def plan(total_steps: int, anneal_steps: int, group_size: int, mode: Mode = "mixed") -> list[StepPlan]:
    """Every logical step of a run, t = 1..total_steps."""
    return [plan_step(t, anneal_steps, group_size, mode) for t in range(1, total_steps + 1)]


def physical_steps(total_steps: int, anneal_steps: int, group_size: int, mode: Mode = "mixed") -> list[PhysicalStep]:
    """The run flattened into the optimizer steps that actually execute, in order."""
    return [p for s in plan(total_steps, anneal_steps, group_size, mode) for p in s.physical]


def step_plan(recipe: Recipe) -> list[PhysicalStep]:
    """The optimizer steps a recipe runs, in order: the one name for a run's physical step plan.

    Physical step i (from 0) is verl's global step i + 1 and line i + 1 of metrics.jsonl; split mode runs
    two per logical step while alpha > 0, so `len(step_plan(recipe))` is the run's optimizer step count.
    """
    s = recipe.schedule
    return physical_steps(s.total_steps, s.anneal_steps, recipe.rollout.group_size, s.mode)
