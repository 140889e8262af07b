from collections import Counter

import pytest

from s2lpo_cli.schedule import PhysicalStep
from s2lpo_cli.training.assembly import (
    ExplorerPool,
    explorer_demand,
    prompt_batch,
    truncate_response,
)


def test_prompt_batches_cover_an_epoch_without_repeats():
    batches = [prompt_batch(i, 10, 3, seed=0) for i in range(3)]  # 3 full batches per epoch, 1 dropped
    flat = [p for b in batches for p in b]
    assert len(set(flat)) == 9
    assert all(len(set(b)) == 3 for b in batches)
    nxt = prompt_batch(3, 10, 3, seed=0)  # next epoch: new permutation
    assert len(set(nxt)) == 3
    assert prompt_batch(0, 10, 3, seed=0) == batches[0]
    assert any(prompt_batch(i, 10, 3, seed=1) != batches[i] for i in range(3))


def test_prompt_batch_refuses_too_few_prompts():
    with pytest.raises(ValueError, match="2 training prompts cannot fill a step of 3"):
        prompt_batch(0, 2, 3, seed=0)


def test_explorer_demand_only_counts_explorer_steps_and_follows_the_reuse_rule():
    steps = [PhysicalStep(1, "mixed", 4, 0), PhysicalStep(2, "mixed", 0, 4), PhysicalStep(3, "mixed", 2, 2)]
    ids = [f"p{i}" for i in range(4)]
    # 4 prompts, 4 per step: every step uses all of them; step 2 has no explorer responses
    assert explorer_demand(steps, ids, 4, seed=0, reuse=True) == dict.fromkeys(ids, 4)  # the largest draw
    assert explorer_demand(steps, ids, 4, seed=0, reuse=False) == dict.fromkeys(ids, 6)  # 4 + 2, no reuse
    ids = [f"p{i}" for i in range(8)]
    used = explorer_demand(steps[:2], ids, 4, seed=0, reuse=True)
    assert set(used) == {ids[j] for j in prompt_batch(0, 8, 4, seed=0)}


def test_pool_draws_without_replacement_until_exhausted():
    pool = ExplorerPool({"p": 8}, seed=3)
    first, second = pool.draw("p", 4), pool.draw("p", 4)
    assert sorted(first + second) == list(range(8))
    third = pool.draw("p", 6)  # new pass over the pool: distinct within the draw
    assert len(set(third)) == 6


def test_pool_never_repeats_within_a_draw_across_a_pass_boundary():
    pool = ExplorerPool({"p": 5}, seed=0)
    for _ in range(20):
        d = pool.draw("p", 3)
        assert len(set(d)) == 3


def test_pool_is_seeded_and_resumable():
    a = ExplorerPool({"p": 16, "q": 16}, seed=7)
    draws = [a.draw("p", 5), a.draw("q", 3)]
    state = a.state_dict()
    later = [a.draw("p", 5), a.draw("q", 7)]
    b = ExplorerPool({"p": 16, "q": 16}, seed=7)
    assert [b.draw("p", 5), b.draw("q", 3)] == draws
    c = ExplorerPool({"p": 16, "q": 16}, seed=7)
    c.load_state_dict(state)
    assert [c.draw("p", 5), c.draw("q", 7)] == later
    assert ExplorerPool({"p": 16}, seed=8).draw("p", 5) != draws[0]


def test_pool_draws_are_uniform_over_passes():
    pool = ExplorerPool({"p": 6}, seed=1)
    counts = Counter(i for _ in range(30) for i in pool.draw("p", 2))
    assert set(counts.values()) == {10}


def test_pool_refuses_more_than_it_holds():
    with pytest.raises(ValueError, match="prompt p has 2 explorer responses, 3 requested"):
        ExplorerPool({"p": 2}, seed=0).draw("p", 3)
    with pytest.raises(ValueError, match="prompt q has 0 explorer responses, 1 requested"):
        ExplorerPool({"p": 2}, seed=0).draw("q", 1)


def test_pool_order_is_pinned_per_prompt_and_per_pass():
    """The seeded order is part of a run's state: a resumed run's cursor indexes it, and verl's launch plans its
    draws with the same pool. Changing the order (its key: "explorer", seed, prompt, pass) breaks both."""
    pool = ExplorerPool({"p": 8, "q": 8}, seed=0)
    assert [pool.draw("p", 8), pool.draw("p", 8)] == [[6, 3, 0, 7, 2, 1, 4, 5], [4, 5, 1, 3, 6, 7, 0, 2]]
    assert pool.draw("q", 8) == [0, 5, 2, 1, 3, 7, 6, 4]  # another prompt of the same size: another order


def test_truncation_cuts_ids_and_logprobs():
    ids, lps, cut = truncate_response([1, 2, 3, 4], [-0.1, -0.2, -0.3, -0.4], 2)
    assert (ids, lps, cut) == ([1, 2], [-0.1, -0.2], True)
    assert truncate_response([1, 2], None, 2) == ([1, 2], None, False)
    assert truncate_response([1, 2, 3], None, 2) == ([1, 2], None, True)  # a store without log-probs
