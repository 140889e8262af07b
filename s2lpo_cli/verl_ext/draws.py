"""Which prompt verl trains on at which global step, and which stored explorer responses it gets.

verl reads the training parquet in file order (s2lpo sets `data.shuffle=false`), one
`prompts_per_step` slice per global step, so s2lpo writes the rows in the order the embedded trainer
uses (`training.assembly.prompt_batch`) and fixes the explorer draws before launch with the same
`ExplorerPool`: both engines train on the same prompts with the same explorer responses at every step.
Every agent-loop worker on every node reads its draws from the parquet row, without talking to the
others, and resuming a run replays the same plan. verl insists on draws without replacement for the
whole run: a prompt whose pool would have to be reused is a coverage problem (`s2lpo_cli.preflight`).
"""

from __future__ import annotations

from dataclasses import dataclass

from s2lpo_cli.data.rows import Row
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.schedule import step_plan
from s2lpo_cli.training.assembly import ExplorerPool, prompt_batch


@dataclass(frozen=True)
class PlannedRow:
    """One training row of the parquet: its global step (from 1) and the explorer responses it gets."""

    step: int
    row: Row
    explorer: tuple[int, ...]  # response_index values in the rollout store, one per explorer slot


def layout(rows: list[Row], recipe: Recipe) -> list[tuple[int, Row]]:
    """Rows in the order verl will read them, each with its global step (the embedded trainer's batches)."""
    per_step, seed = recipe.optim.prompts_per_step, recipe.optim.seed
    if not rows:
        return []
    return [
        (i + 1, rows[j])
        for i in range(len(step_plan(recipe)))
        for j in prompt_batch(i, len(rows), per_step, seed)
    ]


def plan_draws(rows: list[Row], recipe: Recipe, available: dict[str, list[int]]) -> list[PlannedRow]:
    """Assign stored explorer responses to every (step, row).

    `available` maps prompt_id -> the response_index values the store holds for it. A prompt the store
    cannot serve gets no draws here: the preflight (`s2lpo_cli.preflight.store.check_coverage`) refuses
    such a run before anything is written.
    """
    plan = step_plan(recipe)
    stored = {pid: sorted(indices) for pid, indices in available.items()}
    pool = ExplorerPool({pid: len(indices) for pid, indices in stored.items()}, recipe.optim.seed)
    planned: list[PlannedRow] = []
    for step, row in layout(rows, recipe):
        need, pid = plan[step - 1].explorer, row.prompt_id
        if need == 0 or need > len(stored.get(pid, ())):
            planned.append(PlannedRow(step, row, ()))
            continue
        planned.append(PlannedRow(step, row, tuple(stored[pid][j] for j in pool.draw(pid, need))))
    return planned


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
