"""verl's validation: the command carries test_freq, the validation parquet and val_kwargs; our reward scores
the validation rows; verl's own metric code turns the scores into keys that become val.jsonl rows with the
Pass@1 `s2lpo eval` gives for the same responses."""

from __future__ import annotations

import asyncio
import json

import pytest

from s2lpo_cli.evaluation.validation import VAL_KEYS
from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.verl_ext.checkpoints import convert_metrics
from s2lpo_cli.verl_ext.command import VerlPaths, verl_overrides
from s2lpo_cli.verl_ext.parquet import validate_verl_parquet, validation_table, write_table
from s2lpo_cli.verl_ext.validation import convert_validation, val_rows

from .conftest import compose_verl, tiny_verl_recipe

pytestmark = pytest.mark.verl
PATHS = VerlPaths.for_run("/RUN")


def test_the_command_validates_every_k_steps_with_the_modes_sampling():
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    cfg = compose_verl(verl_overrides(load_recipe("4b_8b", ["validation.every=5", "validation.k=8"]), PATHS))
    validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    assert (cfg.trainer.test_freq, cfg.trainer.val_before_train) == (5, True)
    assert cfg.data.val_files == str(PATHS.val_parquet) and cfg.trainer.validation_data_dir == str(PATHS.validation)
    val = cfg.actor_rollout_ref.rollout.val_kwargs
    # nothink: Qwen3's recommended temperature 0.7, top-p 0.8, top-k 20 (s2lpo eval --mode nothink)
    assert (val.n, val.do_sample, val.temperature, val.top_p, val.top_k) == (8, True, 0.7, 0.8, 20)
    off = compose_verl(verl_overrides(load_recipe("4b_8b", ["validation.every=0"]), PATHS))
    assert (off.trainer.test_freq, off.trainer.val_before_train) == (-1, False)


def test_validation_rows_are_evals_questions_and_prompts(tiny_models, tmp_path):
    from s2lpo_cli.data.rows import read_rows
    from s2lpo_cli.prompting import DEFAULT_INSTRUCTION, build_messages

    recipe = tiny_verl_recipe(tiny_models, tmp_path)  # validation: the held-out file, 6 questions
    paths = VerlPaths.for_run(tmp_path)
    write_table(validation_table(recipe), paths.val_parquet)
    assert validate_verl_parquet(paths.val_parquet, train=False) == 6
    rows = validation_table(recipe).to_pylist()
    expected = read_rows(tiny_models / "data" / "heldout.jsonl", limit=6)
    assert [r["data_source"] for r in rows] == ["heldout"] * 6
    assert [r["prompt"] for r in rows] == [build_messages(e.question, DEFAULT_INSTRUCTION) for e in expected]
    assert [r["reward_model"]["ground_truth"] for r in rows] == [e.answer for e in expected]


def test_reward_scores_through_verls_metrics_give_evals_pass_at_1(tiny_models, tmp_path):
    """Two questions, k = 4: the first answered right twice, the second never -> Pass@1 = (2/4 + 0) / 2 = 0.25."""
    from verl.trainer.ppo.v1.trainer_base import PPOTrainer

    from s2lpo_cli.evaluation.progress import NoProgress
    from s2lpo_cli.evaluation.scoring import score_records
    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.verl_ext.reward import compute_score

    recipe = tiny_verl_recipe(tiny_models, tmp_path, None, "validation.limit=2", "validation.k=4")
    rows = validation_table(recipe).to_pylist()
    gold = [r["reward_model"]["ground_truth"] for r in rows]
    responses = [[f"\\boxed{{{gold[0]}}}", "\\boxed{x}", f"so \\boxed{{{gold[0]}}}", "no box"], ["\\boxed{y}"] * 4]

    async def scores():
        return [[await compute_score(r["data_source"], text, r["reward_model"]["ground_truth"], r["extra_info"])
                 for text in texts] for r, texts in zip(rows, responses, strict=True)]

    scored = asyncio.run(scores())
    sources = [r["data_source"] for r, texts in zip(rows, responses, strict=True) for _ in texts]
    uids = [f"q{i}" for i, texts in enumerate(responses) for _ in texts]
    infos = {key: [s[key] for per_q in scored for s in per_q] for key in scored[0][0]}
    infos["reward"] = infos["score"]
    metrics = PPOTrainer._val_metrics_update(None, sources, uids, infos, [1] * len(uids))  # verl's own keys
    assert metrics["val-core/heldout/acc/mean@4"] == pytest.approx(0.25)

    (row,) = val_rows(4, metrics, recipe, {"heldout": 2})
    assert list(row) == list(VAL_KEYS)
    assert (row["step"], row["benchmark"], row["n_questions"], row["k"], row["timeouts"]) == (4, "heldout", 2, 4, 0)
    with Grader(workers=1) as grader:
        _, evaluated = score_records([{"id": str(i), "answer": g, "responses": [{"text": t} for t in texts]}
                                      for i, (g, texts) in enumerate(zip(gold, responses, strict=True))],
                                     grader, [1, 4], NoProgress())
    assert row["pass@1"] == pytest.approx(evaluated["pass@1"]) == pytest.approx(0.25)


def test_verl_logs_become_val_jsonl_once_per_step_and_metrics_keep_their_training_lines(tiny_models, tmp_path):
    recipe = tiny_verl_recipe(tiny_models, tmp_path, None, "validation.every=2")
    paths = VerlPaths.for_run(tmp_path)
    paths.root.mkdir(parents=True)
    write_table(validation_table(recipe), paths.val_parquet)

    def val(p1: float) -> dict:
        return {"val-core/heldout/acc/mean@4": p1, "val-aux/heldout/timeout/mean@4": 0.0}

    def train(step: int) -> dict:
        return {"step": step, "data": {"critic/score/mean": 0.1 * step, "timing_s/step": 3.0, "timing_s/testing": 1.5}}

    first = [{"step": 0, "data": val(0.1)}, train(1), {**train(2), "data": {**train(2)["data"], **val(0.2)}}, train(3)]
    # killed in step 3, resumed from the step-2 checkpoint: verl validates again at 2, then trains 3 and 4
    second = [{"step": 2, "data": val(0.25)}, train(3), {**train(4), "data": {**train(4)["data"], **val(0.4)}}]
    (paths.root / "metrics.20260101000000.jsonl").write_text("".join(json.dumps(x) + "\n" for x in first))
    paths.metrics.write_text("".join(json.dumps(x) + "\n" for x in second))

    assert convert_validation(tmp_path, recipe) == 3
    rows = [json.loads(line) for line in (tmp_path / "val.jsonl").read_text().splitlines()]
    assert [(r["step"], r["pass@1"]) for r in rows] == [(0, 0.1), (2, 0.25), (4, 0.4)]
    assert {r["n_questions"] for r in rows} == {6}
    assert convert_metrics(tmp_path, recipe) == 4
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["reward_mean"] for m in metrics] == pytest.approx([0.1, 0.2, 0.3, 0.4])  # step 2 is not the val line
    assert metrics[1]["time_validation_s"] == 1.5


def test_validation_rows_take_the_sections_instruction(tiny_models, tmp_path):
    from s2lpo_cli.data.rows import read_rows
    from s2lpo_cli.prompting import build_messages

    recipe = tiny_verl_recipe(tiny_models, tmp_path, None, "validation.instruction=Put the final answer in \\boxed{}.")
    rows = validation_table(recipe).to_pylist()
    expected = read_rows(tiny_models / "data" / "heldout.jsonl", limit=6)
    assert [r["prompt"] for r in rows] == [build_messages(e.question, "Put the final answer in \\boxed{}.")
                                           for e in expected]


def _two_benchmarks(tmp_path):
    """4 steps (mixed), validated on the registered math500 and a file named like the registered aime24."""
    (tmp_path / "aime24.jsonl").write_text('{"question": "1+1?", "answer": "2"}\n')
    return load_recipe("4b_8b", ["schedule.total_steps=4", "schedule.anneal_steps=2", "schedule.mode=mixed",
                                 f"validation.benchmarks=[math500,{tmp_path / 'aime24.jsonl'}]", f"output.run_dir={tmp_path}"])


def test_val_rows_by_hand_timeouts_and_spec_versions(tmp_path):
    """math500: 2 questions x k = 4, a timeout share of 0.375 -> 3 timed-out responses, registered spec version 1.
    aime24 here is a file (no spec, whatever the registered name) and verl logged no timeout share for it."""
    recipe = _two_benchmarks(tmp_path)
    data = {"val-core/math500/acc/mean@4": 0.5, "val-aux/math500/timeout/mean@4": 0.375,
            "val-core/aime24/acc/mean@4": 0.25, "val-aux/aime24/acc/best@4/mean": 0.9, "timing_s/testing": 2.0}
    math500, aime24 = val_rows(3, data, recipe, {"math500": 2, "aime24": 3})
    assert math500 == {"step": 3, "benchmark": "math500", "n_questions": 2, "k": 4, "pass@1": 0.5,
                       "pass@k": {"1": 0.5}, "accuracy": 0.5, "mean_length": None, "truncated_rate": None,
                       "timeouts": 3, "grading_rules_version": math500["grading_rules_version"],
                       "spec_version": 1, "mode": "nothink", "seconds": None}
    assert (aime24["benchmark"], aime24["n_questions"], aime24["pass@k"], aime24["timeouts"], aime24["spec_version"]) == (
        "aime24", 3, {"1": 0.25}, None, None)
    (unknown,) = val_rows(3, {"val-core/math500/acc/mean@4": 0.5, "val-aux/math500/timeout/mean@4": 0.375}, recipe, {})
    assert (unknown["n_questions"], unknown["timeouts"]) == (None, None)  # no validation parquet: no count


def test_convert_validation_orders_by_step_then_the_recipes_benchmarks_and_keeps_the_last_step(tmp_path):
    recipe = _two_benchmarks(tmp_path)
    paths = VerlPaths.for_run(tmp_path)
    paths.root.mkdir(parents=True)

    def val(**p1: float) -> dict:
        return {f"val-core/{name}/acc/mean@4": value for name, value in p1.items()}

    log = [{"step": 0, "data": val(extra=0.3, aime24=0.2, math500=0.1)},  # "extra": a benchmark the recipe no longer has
           {"step": 1, "data": {"critic/score/mean": 0.5}},
           {"step": 4, "data": val(math500=0.4)},  # the last of the 4 global steps
           {"step": 5, "data": val(math500=0.9)}]  # beyond the plan: not this run's
    paths.metrics.write_text("".join(json.dumps(x) + "\n" for x in log))
    assert convert_validation(tmp_path, recipe) == 4
    rows = [json.loads(line) for line in (tmp_path / "val.jsonl").read_text().splitlines()]
    assert [(r["step"], r["benchmark"], r["pass@1"]) for r in rows] == [
        (0, "math500", 0.1), (0, "aime24", 0.2), (0, "extra", 0.3), (4, "math500", 0.4)]


def test_convert_validation_without_validation_lines_writes_nothing(tmp_path):
    recipe = _two_benchmarks(tmp_path)
    paths = VerlPaths.for_run(tmp_path)
    paths.root.mkdir(parents=True)
    paths.metrics.write_text(json.dumps({"step": 1, "data": {"critic/score/mean": 0.5}}) + "\n")
    assert convert_validation(tmp_path, recipe) == 0
    assert not (tmp_path / "val.jsonl").exists()


def test_validation_table_asks_a_registered_benchmark_with_its_own_instruction(tmp_path):
    """commonsenseqa (registered, its letter-choice instruction) then a file (the default instruction), no system
    message; each row's extra_info by hand: indexes 0 and 1 across benchmarks, step 0, no explorer draws."""
    from s2lpo_cli.data.rows import prompt_id
    from s2lpo_cli.prompting import DEFAULT_INSTRUCTION, build_messages

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "commonsenseqa.jsonl").write_text(json.dumps(
        {"id": "q", "question": "Where do you keep money?", "answer": "A",
         "choices": {"A": "bank", "B": "ice cream", "C": "library", "D": "a dog", "E": "park"}}) + "\n")
    (tmp_path / "held.jsonl").write_text('{"question": "1+1?", "answer": "2"}\n')
    recipe = load_recipe("4b_8b", [f"validation.benchmarks=[commonsenseqa,{tmp_path / 'held.jsonl'}]",
                                   f"validation.data_dir={tmp_path / 'data'}"])
    choice, held = validation_table(recipe).to_pylist()
    assert choice["data_source"] == "commonsenseqa" and choice["ability"] == "math"
    assert [m["role"] for m in choice["prompt"]] == ["user"]
    assert "(A) bank" in choice["prompt"][0]["content"]
    assert choice["prompt"][0]["content"].endswith("put the letter of the correct choice (A, B, C, D or E) within \\boxed{}.")
    assert choice["reward_model"] == {"style": "rule", "ground_truth": "A"}
    assert choice["extra_info"] == {"split": "val", "index": 0, "prompt_id": choice["extra_info"]["prompt_id"],
                                    "step": 0, "explorer": []}
    assert held == {"data_source": "held", "prompt": build_messages("1+1?", DEFAULT_INSTRUCTION), "ability": "math",
                    "reward_model": {"style": "rule", "ground_truth": "2"},
                    "extra_info": {"split": "val", "index": 1, "prompt_id": prompt_id("1+1?"), "step": 0, "explorer": []}}
