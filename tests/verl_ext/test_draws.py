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
