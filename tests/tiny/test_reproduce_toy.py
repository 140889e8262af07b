"""scripts/reproduce_toy.py: its verdicts and how it reads a run's validation, from hand-made files."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reproduce_toy.py"


@pytest.fixture(scope="module")
def reproduce_toy():
    spec = importlib.util.spec_from_file_location("reproduce_toy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["reproduce_toy"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _results(s2lpo_chain, grpo_chain):
    return {"base": {"by_family": {"chain": 0.01}},
            "arms": {"s2lpo": {"heldout_acc_final_by_family": {"chain": s2lpo_chain}},
                     "grpo": {"heldout_acc_final_by_family": {"chain": grpo_chain}}}}


def test_the_prediction_holds_when_s2lpo_leads_by_more_than_twice_the_larger_sd(reproduce_toy):
    # S2L-PO 32 ± 2, GRPO 2 ± 1: a lead of 30 points against 2 × 2 = 4
    line = reproduce_toy.procedure_verdict(_results([0.30, 0.34, 0.32], [0.02, 0.03, 0.01]), "chain")
    assert "S2L-PO 32.0 ± 2.0%, GRPO 2.0 ± 1.0%" in line and "4.0 points) holds" in line


def test_the_prediction_fails_within_twice_the_larger_sd(reproduce_toy):
    # S2L-PO 6 ± 4, GRPO 2 ± 1: a lead of 4 points against 2 × 4 = 8
    line = reproduce_toy.procedure_verdict(_results([0.02, 0.06, 0.10], [0.02, 0.03, 0.01]), "chain")
    assert "8.0 points) does not hold" in line


# ---------------------------------------------------------------- held-out accuracy read from validation

HELDOUT_ROWS = [("q1", "add"), ("q2", "add"), ("q3", "linear")]
# step: each question's k = 2 verdicts, in HELDOUT_ROWS order
GRADED = {0: [[True, False], [True, True], [False, False]], 10: [[True, True], [True, False], [True, False]]}


def _run_folder(tmp_path, pass_at_1):
    work = tmp_path / "work"
    heldout = work / "tiny_models" / "data" / "heldout.jsonl"
    heldout.parent.mkdir(parents=True)
    heldout.write_text("".join(json.dumps({"id": i, "question": f"What is {i}?", "answer": "1", "family": f}) + "\n"
                               for i, f in HELDOUT_ROWS))
    run = work / "runs" / "seed0"
    for step, verdicts in GRADED.items():
        graded = run / "validation" / f"step_{step:04d}" / "heldout" / "heldout.jsonl"
        graded.parent.mkdir(parents=True)
        graded.write_text("".join(json.dumps({"id": i, "answer": "1", "correct": c}) + "\n"
                                  for (i, _), c in zip(HELDOUT_ROWS, verdicts, strict=True)))
    (run / "val.jsonl").write_text("".join(json.dumps({"step": step, "benchmark": "heldout", "pass@1": p}) + "\n"
                                           for step, p in pass_at_1.items()))
    return work, run


def test_held_out_accuracy_per_family_comes_from_the_kept_graded_rows(reproduce_toy, tmp_path):
    work, run = _run_folder(tmp_path, {0: 3 / 6, 10: 4 / 6})
    families = reproduce_toy.heldout_families(work / reproduce_toy.HELDOUT)
    assert families == {"q1": "add", "q2": "add", "q3": "linear"}
    # step 0: add 3 of 4 samples right, linear 0 of 2; step 10: add 3 of 4, linear 1 of 2
    assert reproduce_toy.run_validation(run, families) == {
        "0": {"add": 0.75, "all": 0.5, "linear": 0.0},
        "10": {"add": 0.75, "all": 4 / 6, "linear": 0.5},
    }


def test_graded_rows_that_disagree_with_val_jsonl_are_refused(reproduce_toy, tmp_path):
    work, run = _run_folder(tmp_path, {0: 3 / 6, 10: 0.5})  # step 10's graded rows give 4/6
    with pytest.raises(SystemExit, match=r"step_0010/heldout/heldout.jsonl gives 0.666667.*step 10 pass@1 0.500000"):
        reproduce_toy.run_validation(run, reproduce_toy.heldout_families(work / reproduce_toy.HELDOUT))


# ---------------------------------------------------------------- how soon each arm gets there

def _arms():
    """Two arms, two seeds: held-out accuracy at steps 0, 10, 20 and the target's reward at steps 1-5."""
    return {
        "s2lpo": {"seeds": [0, 1], "heldout_acc_final": [0.50, 0.44],
                  "heldout_acc_by_step": {"0": [0.40, 0.40], "10": [0.42, 0.45], "20": [0.50, 0.44]},
                  # no target responses at steps 1-2 (the explorer fills the groups)
                  "reward_target_by_step": [[None, None, 0.2, 0.4, 0.6], [None, None, 0.3, 0.3, 0.5]]},
        "grpo": {"seeds": [0, 1], "heldout_acc_final": [0.43, 0.45],
                 "heldout_acc_by_step": {"0": [0.40, 0.40], "10": [0.41, 0.41], "20": [0.43, 0.45]},
                 "reward_target_by_step": [[0.2, 0.2, 0.2, 0.4, 0.4], [0.1, 0.3, 0.3, 0.3, 0.3]]},
    }


def test_rolling_mean_waits_for_a_full_window_of_steps_with_target_responses(reproduce_toy):
    assert reproduce_toy.rolling([None, None, 0.2, 0.4, 0.6], 2) == [(4, pytest.approx(0.3)), (5, pytest.approx(0.5))]


def test_first_steps_reaching_halfway_to_the_best_final_per_seed(reproduce_toy):
    r = reproduce_toy.reach(_arms(), base=0.40, window=2)
    # held-out: best final mean 0.47 (S2L-PO), level 0.40 + 0.07 / 2 = 0.435
    assert r["heldout"]["level"] == pytest.approx(0.435)
    assert r["heldout"]["steps"] == {"s2lpo": [20, 10], "grpo": [None, 20]}
    # reward, rolling mean of 2: runs start at 0.3, 0.3, 0.2, 0.2 (mean 0.25); final means S2L-PO (0.5 + 0.4) / 2,
    # GRPO (0.4 + 0.3) / 2; level 0.25 + (0.45 - 0.25) / 2 = 0.35
    assert r["reward_target"]["level"] == pytest.approx(0.35) and r["reward_target"]["window"] == 2
    assert r["reward_target"]["steps"] == {"s2lpo": [5, 5], "grpo": [5, None]}


def test_a_stated_level_replaces_the_default_and_a_seed_that_never_gets_there_is_kept(reproduce_toy):
    r = reproduce_toy.reach(_arms(), base=0.40, heldout_level=0.5, window=2)
    assert r["heldout"]["rule"] == "--reach-heldout"
    assert r["heldout"]["steps"] == {"s2lpo": [20, None], "grpo": [None, None]}
    assert reproduce_toy.spread([20, None]) == "20, never (range 20–never)"
    assert reproduce_toy.spread([None, None]) == "never, never (never)"
    assert reproduce_toy.spread([20, 10]) == "20, 10 (mean 15.0 ± 7.1)"


def test_no_level_when_no_arm_ends_above_its_start(reproduce_toy):
    r = reproduce_toy.reach(_arms(), base=0.60, window=2)
    assert r["heldout"]["level"] is None and r["heldout"]["steps"] == {"s2lpo": [None, None], "grpo": [None, None]}


def test_groups_with_signal_per_family_are_averaged_per_block_over_seeds_and_steps(reproduce_toy):
    results = {"settings": {"validate_every": 2},
               "arms": {"s2lpo": {"label": "S2L-PO", "reward_target_by_step": [[0.1] * 4],
                                  # chain per step, seeds 0 and 1; None: no chain prompt at that step
                                  "nonzero_adv_frac_by_family_by_step": {"chain": [[1.0, 0.5, None, 0.0],
                                                                                   [0.5, 0.0, 1.0, 1.0]]}}}}
    # steps 1-2: (1 + 0.5 + 0.5 + 0) / 4 = 50%; steps 3-4: (0 + 1 + 1) / 3 = 67% (None is no group, not 0)
    assert reproduce_toy.nonzero_adv_lines(results)[-1] == "| S2L-PO | chain | 50 | 67 |"


def test_a_held_out_file_without_families_is_refused_naming_the_question(reproduce_toy, tmp_path):
    path = tmp_path / "heldout.jsonl"
    path.write_text(json.dumps({"id": "q1", "question": "What is 1?", "answer": "1"}) + "\n")
    with pytest.raises(SystemExit, match=r"heldout.jsonl: question 'q1' has no 'family' field"):
        reproduce_toy.heldout_families(path)


def test_validation_asks_the_held_out_questions_as_training_asks_its_own(reproduce_toy):
    """The toy validates what RL trained: the tiny recipe's prompt instruction, not eval's default."""
    from s2lpo_cli.recipe import load_recipe

    sets = reproduce_toy.validation_sets(save_every=10, k=8, seed=0)
    resolved = load_recipe("tiny", sets)
    assert resolved.validation.instruction == resolved.data.prompt.instruction == "Put the final answer in \\boxed{}."
