"""scripts/reproduce_toy.py's verdict on a procedure family, from hand-made results."""

import importlib.util
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
