"""scripts/mutation_survivors.py: `make mutate`'s per-module table of verdicts."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("mutmut", reason="the `mutate` extra (make mutate installs it)")

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("mutation_survivors", REPO / "scripts" / "mutation_survivors.py")
survivors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(survivors)


def test_the_table_counts_each_verdict_per_module_and_scores_those_run():
    a, b = Path("s2lpo_cli/schedule.py"), Path("s2lpo_cli/grading/passk.py")
    found = [("m1", "killed", a), ("m2", "killed", a), ("m3", "timeout", a), ("m4", "survived", a),
             ("m5", "no tests", a), ("m6", "not checked", b)]
    assert survivors.module_table(found) == [
        "| module | mutants | killed | timeout | survived | suspicious | no tests | not checked | score |",
        "|---|---|---|---|---|---|---|---|---|",
        "| `s2lpo_cli/grading/passk.py` | 1 | 0 | 0 | 0 | 0 | 0 | 1 | - |",
        "| `s2lpo_cli/schedule.py` | 5 | 2 | 1 | 1 | 0 | 1 | 0 | 75.0 % |",
    ]
