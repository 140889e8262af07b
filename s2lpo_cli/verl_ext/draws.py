"""Which prompt verl trains on at which global step, and which stored explorer responses it gets.

verl reads the training parquet in file order (s2lpo sets `data.shuffle=false`), one
`prompts_per_step` slice per global step, so s2lpo shuffles the rows itself (a fresh seeded
permutation per pass over the data) and knows each row's step in advance. That makes the explorer
draws a plan fixed before launch: every prompt has a seeded permutation of its stored responses and
each appearance takes the next G_w of them, so no response is used twice in a run (draws without
replacement across steps) and every agent-loop worker on every node agrees without talking to the
others. Resuming a run replays the same plan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from s2lpo_cli.data.rows import Row
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.schedule import PhysicalStep, physical_steps


@dataclass(frozen=True)
class PlannedRow:
    """One training row of the parquet: its global step (from 1) and the explorer responses it gets."""

    step: int
    row: Row
    explorer: tuple[int, ...]  # response_index values in the rollout store, one per explorer slot


def step_plan(recipe: Recipe) -> list[PhysicalStep]:
    """verl global step g (from 1) runs `step_plan(recipe)[g - 1]`."""
    s = recipe.schedule
    return physical_steps(s.total_steps, s.anneal_steps, recipe.rollout.group_size, s.mode)


def layout(rows: list[Row], recipe: Recipe) -> list[tuple[int, Row]]:
    """Rows in the order verl will read them, each with its global step."""
    if not rows:
        return []
    per_step = recipe.optim.prompts_per_step
    needed = len(step_plan(recipe)) * per_step
    ordered: list[Row] = []
    epoch = 0
    while len(ordered) < needed:
        order = list(rows)
        random.Random(f"{recipe.optim.seed}:layout:{epoch}").shuffle(order)
        ordered.extend(order)
        epoch += 1
    return [(i // per_step + 1, row) for i, row in enumerate(ordered[:needed])]


def plan_draws(
    rows: list[Row], recipe: Recipe, available: dict[str, list[int]]
) -> tuple[list[PlannedRow], list[str]]:
    """Assign stored explorer responses to every (step, row); also the coverage problems found.

    `available` maps prompt_id -> the response_index values the store holds for it.
    """
    plan = step_plan(recipe)
    order: dict[str, list[int]] = {}
    used: dict[str, int] = {}
    planned: list[PlannedRow] = []
    missing: set[str] = set()
    short: dict[str, int] = {}
    for step, row in layout(rows, recipe):
        need = plan[step - 1].explorer
        pid = row.prompt_id
        if need == 0:
            planned.append(PlannedRow(step, row, ()))
            continue
        if pid not in available:
            missing.add(pid)
            planned.append(PlannedRow(step, row, ()))
            continue
        if pid not in order:
            order[pid] = sorted(available[pid])
            random.Random(f"{recipe.optim.seed}:draws:{pid}").shuffle(order[pid])
        start = used.get(pid, 0)
        draw = tuple(order[pid][start : start + need])
        used[pid] = start + need
        if len(draw) < need:
            short[pid] = max(short.get(pid, 0), start + need)
        planned.append(PlannedRow(step, row, draw))
    problems = []
    if missing:
        example = sorted(missing)[:3]
        problems.append(
            f"explorer store: {len(missing)} training prompt(s) that get explorer responses are not in the store "
            f"(e.g. prompt_id {', '.join(example)}); sample them with `s2lpo sample` on the same training set"
        )
    if short:
        worst = max(short.values())
        problems.append(
            f"explorer store: {len(short)} prompt(s) need up to {worst} distinct explorer responses over the run "
            f"(drawn without replacement) but the store holds fewer; sample more per prompt "
            f"(`s2lpo sample --n {worst}`) or lower schedule.anneal_steps / optim.prompts_per_step"
        )
    return planned, problems


def explorer_step_stats(planned: list[PlannedRow], responses: dict, max_response_tokens: int) -> dict[int, dict]:
    """Per global step: how many explorer responses it replays, their token count and stored reward.

    verl logs one score and one response length over the whole step; with these the explorer's and
    the target's shares can be separated afterwards. A reward is only exact for responses the run
    does not cut, so `reward_sum` is None for a step that cuts one.
    """
    stats: dict[int, dict] = {}
    for p in planned:
        entry = stats.setdefault(p.step, {"count": 0, "tokens": 0, "reward_sum": 0.0})
        for index in p.explorer:
            stored = responses[p.row.prompt_id][index]
            n = len(stored.response_token_ids)
            entry["count"] += 1
            entry["tokens"] += min(n, max_response_tokens)
            if entry["reward_sum"] is not None:
                entry["reward_sum"] = None if n > max_response_tokens else entry["reward_sum"] + float(stored.reward)
    return stats
