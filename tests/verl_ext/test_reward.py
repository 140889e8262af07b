"""The reward module, loaded and called by verl's own reward manager, gives the grader's verdicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2lpo_cli.verl_ext.command import VerlPaths, verl_overrides

from .conftest import compose_verl, tiny_verl_recipe

pytestmark = pytest.mark.verl

CASES = [  # (response, gold)
    ("So the sum is \\boxed{89}.", "89"),
    ("I get \\boxed{88}.", "89"),
    ("The answer is 89 but I will not box it.", "89"),
    ("Half: \\boxed{\\frac{1}{2}}", "0.5"),
    ("x = \\boxed{-4}", "-4"),
]


@pytest.mark.slow
def test_verl_reward_manager_returns_the_graders_verdicts(tiny_models, tmp_path):
    from transformers import AutoTokenizer
    from verl import DataProto
    from verl.trainer.ppo.reward import load_reward_manager

    from s2lpo_cli.grading.grader import Grader

    recipe = tiny_verl_recipe(tiny_models, tmp_path)
    config = compose_verl(verl_overrides(recipe, VerlPaths.for_run(tmp_path)))
    tokenizer = AutoTokenizer.from_pretrained(tiny_models / "target")
    manager = load_reward_manager(config, tokenizer)  # imports pkg://s2lpo_cli.verl_ext.reward as verl does
    scores = []
    for response, gold in CASES:
        prompt = tokenizer("What is it?", return_tensors="pt")["input_ids"]
        ids = tokenizer(response, return_tensors="pt")["input_ids"]
        data = DataProto.from_dict(
            tensors={"prompts": prompt, "responses": ids,
                     "attention_mask": torch.ones(1, prompt.shape[1] + ids.shape[1], dtype=torch.long)},
            non_tensors={"data_source": np.array(["synthetic"], dtype=object),
                         "reward_model": np.array([{"style": "rule", "ground_truth": gold}], dtype=object),
                         "extra_info": np.array([{"index": 0}], dtype=object)},
        )
        result = manager.loop.run_until_complete(manager.run_single(data))
        scores.append(result["reward_score"])
        assert set(result["reward_extra_info"]) == {"score", "acc", "no_answer", "timeout"}
    with Grader(workers=1) as grader:
        verdicts = grader.grade(CASES)
    assert scores == [1.0 if v.correct else 0.0 for v in verdicts]
    assert scores[:3] == [1.0, 0.0, 0.0]


def test_pool_is_the_nodes_cpus_shared_among_its_reward_workers():
    from s2lpo_cli.recipe import load_recipe
    from s2lpo_cli.verl_ext.reward import pool_size

    assert pool_size(8, cpus=128) == 16 and pool_size(8, cpus=4) == 1 and pool_size(0, cpus=4) == 4
    assert pool_size(3, cpus=8) == 2  # whole processes: 8 CPUs among 3 workers leave 2 each
    two_nodes = load_recipe("4b_8b", ["engine.nodes=2", "engine.overrides={reward.num_workers: 6}"])
    cfg = compose_verl(verl_overrides(two_nodes, VerlPaths.for_run("/RUN")))
    assert cfg.reward.custom_reward_function.reward_kwargs.reward_workers_per_node == 3 and cfg.reward.num_workers == 6


def test_concurrent_calls_are_awaited_by_verl_and_graded_in_batches(monkeypatch, tmp_path):
    import asyncio
    import inspect

    from s2lpo_cli.recipe import load_recipe
    from s2lpo_cli.verl_ext import reward

    cfg = compose_verl(verl_overrides(load_recipe("4b_8b"), VerlPaths.for_run(tmp_path)))
    from verl.trainer.ppo.reward import get_custom_reward_fn

    fn = get_custom_reward_fn(cfg)  # what verl's reward manager calls: a coroutine, so it awaits it (no thread pool)
    assert inspect.iscoroutinefunction(fn)
    monkeypatch.setattr(reward, "_pool", None)
    monkeypatch.setattr(reward, "default_workers", lambda: 2)
    monkeypatch.setattr(reward, "GRADE_TIMEOUT_S", 60.0)  # a busy test machine must not turn a verdict into a timeout
    batches = []
    grade = reward.Grader.grade
    monkeypatch.setattr(reward.Grader, "grade", lambda self, pairs, *a: batches.append(len(pairs)) or grade(self, pairs, *a))

    async def step():
        return await asyncio.gather(*[fn(data_source="synthetic", solution_str=response, ground_truth=gold,
                                         extra_info={}) for response, gold in CASES * 4])

    results = asyncio.run(step())
    assert [r["score"] for r in results] == [1.0, 0.0, 0.0, 1.0, 1.0] * 4
    per_node = cfg.reward.custom_reward_function.reward_kwargs.reward_workers_per_node
    assert reward.shared_pool(1).grader.n_workers == reward.pool_size(per_node)  # the pool verl's kwargs sized
    assert sum(batches) == len(CASES) * 4 and len(batches) < len(CASES) * 4  # calls in flight were batched
    reward.shared_pool(1).grader.close()


@pytest.mark.slow
def test_reward_benchmark_counts_timeouts_apart_from_disagreements():
    from bench.bench_reward import compare

    pairs = [("So \\boxed{89}.", "89"), ("So \\boxed{88}.", "89"), ("So \\boxed{x^2}.", "x^2"), ("\\boxed{3}", "3")]
    before = [{"score": 1.0, "timeout": 0.0}, {"score": 0.0, "timeout": 0.0}, {"score": 0.0, "timeout": 1.0},
              {"score": 0.0, "timeout": 1.0}]
    after = [{"score": 1.0, "timeout": 0.0}, {"score": 1.0, "timeout": 0.0}, {"score": 1.0, "timeout": 0.0},
             {"score": 0.0, "timeout": 1.0}]
    assert compare(pairs, before, after) == {
        "previous_timeouts": 2, "current_timeouts": 1, "timeouts_on_both": 1, "timeouts_on_one": 1,
        "regraded_agree": 1,  # x^2 graded alone is right, as the path that did not time out said
        "verdicts_differ": 1,  # 88 vs 89: both paths graded it, and they disagree
    }


class FakeGrader:
    """Grader's interface without worker processes: right when the response is the gold; "boom" raises."""

    def __init__(self, workers: int, timeout_s: float) -> None:
        self.n_workers, self.timeout_s, self.batches = workers, timeout_s, []

    def grade(self, pairs):
        from s2lpo_cli.grading.grader import Grade

        self.batches.append(list(pairs))
        if any(response == "boom" for response, _ in pairs):
            raise RuntimeError("a grading worker died")
        return [Grade(response == gold, response, "ok") for response, gold in pairs]


def test_score_keeps_no_answer_and_timeout_apart():
    from s2lpo_cli.grading.grader import Grade
    from s2lpo_cli.verl_ext.reward import _score

    assert _score(Grade(True, "1", "ok")) == {"score": 1.0, "acc": 1.0, "no_answer": 0.0, "timeout": 0.0}
    assert _score(Grade(False, None, "no_answer")) == {"score": 0.0, "acc": 0.0, "no_answer": 1.0, "timeout": 0.0}
    assert _score(Grade(False, "2", "timeout")) == {"score": 0.0, "acc": 0.0, "no_answer": 0.0, "timeout": 1.0}


def test_a_failed_batch_reaches_each_of_its_callers_and_the_next_batch_is_graded(monkeypatch):
    from s2lpo_cli.verl_ext import reward

    monkeypatch.setattr(reward, "Grader", FakeGrader)
    pool = reward.BatchGrader(3, 7.5)
    assert (pool.grader.n_workers, pool.grader.timeout_s, pool._thread.daemon) == (3, 7.5, True)
    with pool._wake:  # both calls arrive while the grading thread waits: one batch
        failed = [pool.submit("boom", "1"), pool.submit("1", "1")]
    for future in failed:
        with pytest.raises(RuntimeError, match="a grading worker died"):
            future.result(timeout=10)
    assert pool.submit("2", "2").result(timeout=10).correct
    assert pool.grader.batches == [[("boom", "1"), ("1", "1")], [("2", "2")]]


def test_compute_score_grades_on_this_processs_pool_sized_to_the_node(monkeypatch):
    """8 CPUs: one reward worker per node (verl's kwargs absent) gets 8 grading processes, 4 per node get 2."""
    import asyncio

    from s2lpo_cli.verl_ext import reward

    monkeypatch.setattr(reward, "Grader", FakeGrader)
    monkeypatch.setattr(reward, "_pool", None)
    monkeypatch.setattr(reward, "default_workers", lambda: 8)
    assert asyncio.run(reward.compute_score("synthetic", "7", "8"))["score"] == 0.0
    assert reward.shared_pool(1).grader.n_workers == 8
    monkeypatch.setattr(reward, "_pool", None)
    monkeypatch.setattr(reward, "GRADE_TIMEOUT_S", 60.0)  # as a test on a busy machine sets it: the pool takes it
    result = asyncio.run(reward.compute_score("synthetic", "89", 89, None, reward_workers_per_node=4))
    assert result == {"score": 1.0, "acc": 1.0, "no_answer": 0.0, "timeout": 0.0}  # the gold 89 graded as "89"
    pool = reward.shared_pool(1)
    assert (pool.grader.n_workers, pool.grader.timeout_s, pool.grader.batches) == (2, 60.0, [[("89", "89")]])
    assert reward.shared_pool(5) is pool  # one pool per process, whatever a later call asks
    monkeypatch.setattr(reward.os, "getpid", lambda: -1)  # a forked child: its own pool
    child = reward.shared_pool(5)
    assert child is not pool and child.grader.n_workers == 5
