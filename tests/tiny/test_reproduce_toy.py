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
