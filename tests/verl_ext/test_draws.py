"""The per-step explorer statistics the metrics mapping subtracts from verl's whole-step score and length."""

from __future__ import annotations

from types import SimpleNamespace

from s2lpo_cli.data.rows import Row
from s2lpo_cli.verl_ext.draws import PlannedRow, explorer_step_stats


def _stored(tokens: int, reward: float) -> SimpleNamespace:
    return SimpleNamespace(response_token_ids=list(range(tokens)), reward=reward)


def test_explorer_step_stats_by_hand():
    """Budget 4 tokens. Step 1: responses of 3, 2 and 4 tokens (none cut), rewards 1 + 1 + 1.
    Step 2: 5 tokens (cut to 4, so its reward is unknown) then 6 (cut to 4): 8 tokens, reward None.
    Step 3: a row without explorer responses."""
    a, b = Row("a", "question a", "1"), Row("b", "question b", "2")
    responses = {a.prompt_id: {0: _stored(3, 1.0), 1: _stored(5, 0.0), 2: _stored(2, 1.0)},
                 b.prompt_id: {0: _stored(4, 1.0), 1: _stored(6, 1.0)}}
    planned = [PlannedRow(1, a, (0, 2)), PlannedRow(1, b, (0,)), PlannedRow(2, a, (1,)), PlannedRow(2, b, (1,)),
               PlannedRow(3, b, ())]
    assert explorer_step_stats(planned, responses, 4) == {
        1: {"count": 3, "tokens": 9, "reward_sum": 3.0},
        2: {"count": 2, "tokens": 8, "reward_sum": None},
        3: {"count": 0, "tokens": 0, "reward_sum": 0.0},
    }


def test_plan_draws_serves_each_step_its_g_w_from_the_embedded_trainers_pool():
    """G = 4 annealed over 5 steps: G_w = 4, 3, 2, 1, 0. Prompt a has 8 stored responses (indices 10..17), b
    exactly one (index 5): b gets it at the step that needs 1 and nothing where it cannot be served; a gets
    the draws of the embedded trainer's ExplorerPool with the recipe's seed, as stored indices."""
    from s2lpo_cli.recipe import load_recipe
    from s2lpo_cli.training.assembly import ExplorerPool
    from s2lpo_cli.verl_ext.draws import layout, plan_draws

    recipe = load_recipe("4b_8b", ["rollout.group_size=4", "schedule.anneal_steps=5", "schedule.total_steps=5",
                                   "schedule.mode=mixed", "optim.prompts_per_step=2", "optim.mini_batch=2",
                                   "optim.micro_batch=1", "optim.seed=7"])
    a, b = Row("a", "question a", "1"), Row("b", "question b", "2")
    planned = plan_draws([a, b], recipe, {a.prompt_id: list(range(17, 9, -1)), b.prompt_id: [5]})
    assert [(p.step, p.row) for p in planned] == layout([a, b], recipe)
    assert [(p.step, len(p.explorer)) for p in planned if p.row == a] == [(1, 4), (2, 3), (3, 2), (4, 1), (5, 0)]
    assert [(p.step, p.explorer) for p in planned if p.row == b] == [(1, ()), (2, ()), (3, ()), (4, (5,)), (5, ())]
    pool = ExplorerPool({a.prompt_id: 8, b.prompt_id: 1}, 7)
    assert [p.explorer for p in planned if p.row == a] == [tuple(10 + j for j in pool.draw(a.prompt_id, k))
                                                           for k in (4, 3, 2, 1, 0)]
    absent = plan_draws([a, b], recipe, {a.prompt_id: list(range(10, 18))})  # b is not in the store at all
    assert all(p.explorer == () for p in absent if p.row == b)
