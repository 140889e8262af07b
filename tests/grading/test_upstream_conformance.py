"""Every Math-Verify test case (../shared/data/math_verify_cases.jsonl) graded through `s2lpo eval --responses`.

Each case agrees with upstream's verdict or is listed, with the rule that decides it, in
s2lpo_cli/grading/deliberate_differences.yaml. A new disagreement fails, and so does a listed case that now
agrees (the table is stale). The cases become a raw file as tests/grading/eval_path.py says; one command grades
them all. The same table is rendered in docs/grading-policy.md, which must be current.
"""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from s2lpo_cli.grading.conformance import load_differences
from s2lpo_cli.grading.version import RULES_VERSION

from .eval_path import gold_answer, grade_via_eval, response_text

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "grading-policy.md"


@pytest.fixture(scope="module")
def table():
    return load_differences()


def test_every_upstream_case_agrees_or_is_a_listed_difference(shared_data, tmp_path, table):
    source = shared_data / "math_verify_cases.jsonl"
    assert hashlib.sha256(source.read_bytes()).hexdigest() == table.cases_sha256, f"{source} changed"
    cases = [json.loads(line) for line in source.read_text().splitlines()]
    assert len(cases) == table.total_cases
    graded = grade_via_eval(tmp_path, [(c["id"], response_text(c["pred"]), gold_answer(c["gold"])) for c in cases])
    differ = {c["id"]: graded[c["id"]]["correct"] for c in cases if graded[c["id"]]["correct"] != bool(c["expected"])}
    listed = {row.case: row for row in table.differences}
    new = sorted(set(differ) - set(listed))
    stale = sorted(set(listed) - set(differ))
    assert not new, f"new disagreements with upstream (fix the grader or list them with their rule): {new}"
    assert not stale, f"listed as differences but now agree with upstream (remove them from the table): {stale}"
    assert all(listed[case].ours == ours for case, ours in differ.items())
    expected = {c["id"]: bool(c["expected"]) for c in cases}
    assert all(row.upstream == expected[row.case] for row in table.differences)


def test_the_table_is_for_the_current_rules(table):
    assert table.rules_version == RULES_VERSION, "grading rules moved on: run the conformance test, update the table"


def test_every_rule_of_the_table_is_on_the_policy_page(table):
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', PAGE.read_text(encoding="utf-8")))
    assert {row.rule for row in table.differences} <= anchors


def test_the_policy_page_shows_the_current_table():
    script = REPO / "scripts" / "grading_policy_page.py"
    proc = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
