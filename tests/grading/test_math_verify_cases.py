"""Math-Verify's own test cases (../shared/data/math_verify_cases.jsonl) replayed through our verify path.

Each case is parsed as upstream's tests do (its match types, boxed priority 0) and judged by
`equivalent`, which adds the exact-number policy; every expected verdict must still hold.
"""

import json
import logging
from importlib.metadata import version

import pytest
from math_verify import ExprExtractionConfig, LatexExtractionConfig

from s2lpo_cli.grading.equivalence import DEFAULT_EXTRACTION, equivalent, parse_expression

# latex2sympy's parser generated for the antlr 4.9.3 runtime (the one verl's hydra pins) reads this
# case's inline percent differently than the 4.13.2 parser math-verify asks for. See POLICY.md.
DIVERGES_ON_ANTLR_4_9 = {"mv-060"}


def _extraction(match_types):
    if match_types == "default":
        return DEFAULT_EXTRACTION
    return [LatexExtractionConfig(boxed_match_priority=0) if m == "latex" else ExprExtractionConfig() for m in match_types]


@pytest.mark.slow
def test_all_upstream_cases(shared_data):
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    cases = [json.loads(line) for line in (shared_data / "math_verify_cases.jsonl").read_text().splitlines()]
    assert len(cases) == 269
    wrong = []
    for case in cases:
        extraction = _extraction(case["match_types"])
        verdict = equivalent(
            parse_expression(case["gold"], extraction),
            parse_expression(case["pred"], extraction),
            float_rounding=case["precision"],
            strict=case["strict"],
            allow_set_relation_comp=case["allow_set_relation_comp"],
        )
        if verdict != bool(case["expected"]):
            wrong.append(case["id"])
    allowed = set() if version("antlr4-python3-runtime").startswith("4.13") else DIVERGES_ON_ANTLR_4_9
    assert set(wrong) <= allowed, f"{len(wrong)} of 269 cases disagree with upstream: {wrong}"
