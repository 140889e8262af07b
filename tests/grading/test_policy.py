"""The documented policy for math-verify's known false results (s2lpo_cli/grading/POLICY.md)."""

import logging

import pytest
from math_verify import parse, verify

from s2lpo_cli.grading.equivalence import equivalent, parse_boxed
from s2lpo_cli.grading.extract import extract_answer

logging.getLogger("math_verify").setLevel(logging.ERROR)


def judged(gold: str, pred: str) -> bool:
    return equivalent(parse_boxed(gold), parse_boxed(pred))


@pytest.mark.parametrize(
    "gold,pred",
    [
        ("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}"),
        ("\\frac{1}{2004!}", "\\frac{1}{2006!}"),
        ("\\frac{2^{2005}+1}{3 \\cdot 2^{2006}}", "\\frac{1}{3 \\cdot 2^{2006}}"),
    ],
)
def test_distinct_exact_numbers_are_not_equal(gold, pred):
    raw = verify(parse_boxed(gold), parse_boxed(pred), timeout_seconds=None)
    assert raw is True  # math-verify's rounding calls them equal ...
    assert judged(gold, pred) is False  # ... the policy does not


@pytest.mark.parametrize(
    "gold,pred",
    [
        ("\\frac{1}{2^{99}}", "2^{-99}"),
        ("\\frac{1}{2}", "\\frac{2}{4}"),
        ("\\frac{1}{3}", "0.333333"),  # a decimal is still compared after rounding to 6 places
        ("28\\%", "28"),  # the percent sign is dropped, whatever the antlr runtime
        ("28", "28\\%"),
        ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
    ],
)
def test_equal_values_stay_equal(gold, pred):
    assert judged(gold, pred) is True


def test_rounding_rule_has_limits():
    assert judged("\\frac{1}{3}", "0.3333") is False


def test_only_the_last_box_counts():
    response = "The solutions are \\boxed{1}, \\boxed{2}"
    assert parse(response)[0] == parse_boxed("1,2")[0]  # math-verify alone merges the boxes into {1, 2}
    assert extract_answer(response) == "2"
    assert judged("1, 2", extract_answer(response)) is False
    assert judged("2", extract_answer(response)) is True


@pytest.mark.parametrize(
    "gold,pred",
    [  # reported against older math-verify (issues #14, #41, #60); 0.9 gets them right, kept as regressions
        ("n=2, 3, 4", "n=1, 2, 3"),
        ("D = (0, 1)", "D = (0, 1.5)"),
        ("\\pm 2021", "2021"),
        ("4", "4\\sqrt(2)"),
        ("3x-y+13=0", "3x+4y+14=0"),
    ],
)
def test_old_false_positives_stay_fixed(gold, pred):
    assert judged(gold, pred) is False
