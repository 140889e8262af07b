"""The grader's integer fast path gives math-verify's verdicts, and leaves every other form to it."""

import pytest

from s2lpo_cli.grading.equivalence import equivalent, parse_boxed
from s2lpo_cli.grading.exact_match import integer_verdict
from s2lpo_cli.grading.grader import Grade, Grader
from s2lpo_cli.tiny.task import FAMILIES, family_problems

NEAR_MISSES = [  # (answer, gold): not both canonical integers, so math-verify decides
    ("-0", "0"), ("007", "7"), ("1,000", "1000"), ("10\\%", "10"), ("x=3", "3"), ("\\frac{6}{2}", "3"),
    ("+3", "3"), ("3.0", "3"), ("3", "\\frac{6}{2}"), ("1000", "1,000"), ("- 7", "-7"), ("3", "x=3"),
]


def _math_verify(answer: str, gold: str) -> bool:
    return equivalent(parse_boxed(gold), parse_boxed(answer))


def test_every_synthetic_answer_gets_math_verifys_verdict():
    answers = sorted({p.answer for family in FAMILIES for p in family_problems(family)}, key=int)
    assert len(answers) > 50 and answers[0].startswith("-")
    for gold in answers:
        for answer in {gold, str(int(gold) + 1), str(-int(gold)), f" {gold} "}:
            verdict = integer_verdict(answer, gold)
            assert verdict is not None, (answer, gold)
            assert verdict == _math_verify(answer, gold), (answer, gold)


def test_large_integers_compare_exactly():
    assert integer_verdict("100000000000000000001", "100000000000000000000") is False
    assert integer_verdict("100000000000000000001", "100000000000000000000") == _math_verify(
        "100000000000000000001", "100000000000000000000")


@pytest.mark.parametrize("answer,gold", NEAR_MISSES)
def test_near_misses_are_left_to_math_verify(answer, gold):
    assert integer_verdict(answer, gold) is None


def test_grader_verdicts_are_math_verifys_with_and_without_the_fast_path():
    pairs = [(f"so \\boxed{{{a}}}", g) for a, g in NEAR_MISSES + [("12", "12"), ("-5", "-5"), ("12", "13")]]
    expected = [Grade(_math_verify(a, g), a, "ok") for a, g in NEAR_MISSES + [("12", "12"), ("-5", "-5"),
                                                                               ("12", "13")]]
    with Grader(workers=1, timeout_s=60) as grader:  # generous: a loaded machine parses slowly
        assert grader.grade(pairs) == expected
    assert expected[-3:] == [Grade(True, "12", "ok"), Grade(True, "-5", "ok"), Grade(False, "12", "ok")]
