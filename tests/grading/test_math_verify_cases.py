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


# Rules v2 decide one upstream case the other way on purpose: upstream's test asserts that the two
# truncated parses of `1 - \frac{1}{\mathrm{e}}` and `1 + \frac{1}{\mathrm{e}}` are equal; reading
# \mathrm{e} as e makes them the different numbers they are. See POLICY.md.
DIFFERS_UNDER_RULES_V2 = {"mv-264"}


def _bare(text: str) -> str | None:
    """The expression of a case that is one `$...$` and nothing else, else None."""
    text = text.strip()
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] == "$" and "$" not in text[1:-1] else None


@pytest.mark.slow
def test_all_upstream_cases_under_rules_v2(shared_data):
    """The same cases with the v2 rules on top (text rewrites, tuple vs set, ellipsis sequences as text)."""
    from s2lpo_cli.grading.policy import is_sequence, normalize_text, ordered_against_set, sequence_text

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    cases = [json.loads(line) for line in (shared_data / "math_verify_cases.jsonl").read_text().splitlines()]
    wrong = []
    for case in cases:
        extraction = _extraction(case["match_types"])
        gold_text, pred_text = normalize_text(case["gold"]), normalize_text(case["pred"])
        # the ellipsis rule judges an extracted answer; here that is a case that is one bare $...$ expression
        answers = [_bare(gold_text), _bare(pred_text)]
        if None not in answers and (is_sequence(answers[0]) or is_sequence(answers[1])):
            verdict = sequence_text(answers[0]) == sequence_text(answers[1])
        else:
            gold, pred = parse_expression(gold_text, extraction), parse_expression(pred_text, extraction)
            verdict = equivalent(gold, pred, float_rounding=case["precision"], strict=case["strict"],
                                 allow_set_relation_comp=case["allow_set_relation_comp"])
            shown = (gold[1] if len(gold) > 1 else gold_text, pred[1] if len(pred) > 1 else pred_text)
            verdict = verdict and not ordered_against_set(shown[0], gold, shown[1], pred)
        if verdict != bool(case["expected"]):
            wrong.append(case["id"])
    allowed = DIFFERS_UNDER_RULES_V2 | (set() if version("antlr4-python3-runtime").startswith("4.13") else DIVERGES_ON_ANTLR_4_9)
    assert DIFFERS_UNDER_RULES_V2 <= set(wrong) <= allowed, f"cases that disagree: {sorted(wrong)}"
