"""The documented policy for math-verify's known false results (docs/grading-policy.md)."""

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from math_verify import verify
from sympy import Rational

from s2lpo_cli.grading.equivalence import equivalent, parse_boxed
from s2lpo_cli.grading.extract import extract_answer
from s2lpo_cli.grading.policy import Gold, parse_gold, sequence_text, verdict

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


@pytest.mark.parametrize("gold,pred", [("x+1", "y+1"), ("(1, 2)", "1 < x < 2")])
def test_variables_matter_and_an_interval_is_not_an_inequality(gold, pred):
    assert judged(gold, pred) is False  # math-verify's strict mode, no set-relation comparison


def test_parsing_and_comparing_work_off_the_main_thread():
    # math-verify's own timeouts use signal.alarm, which works only in the main thread: they are switched off
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(judged, "\\frac{1}{2}", "0.5").result() is True


def test_rounding_rule_has_limits():
    assert judged("\\frac{1}{3}", "0.3333") is False


def test_boxes_one_after_the_other_are_one_answer_and_a_hedge_gains_nothing():
    response = "The solutions are \\boxed{1}, \\boxed{2}"
    assert extract_answer(response) == "1, 2"
    assert judged("1, 2", extract_answer(response)) is True
    assert judged("2", extract_answer(response)) is False  # two answers to a one-answer question
    hedge = "It is \\boxed{1} or \\boxed{2}"  # "or" does not join: the last box alone
    assert extract_answer(hedge) == "2"


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


# Grading rules v2 (s2lpo_cli/grading/policy.py): applied on top of math-verify's verdict.


def graded(gold: str, answer: str) -> bool:
    return verdict(parse_gold(gold), answer)


@pytest.mark.parametrize(
    "gold,pred",
    [
        ("(1,2)", "\\{1,2\\}"),
        ("\\{1,2\\}", "(1,2)"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\{3, \\frac{\\pi}{2}\\}"),
        ("(1,2,3)", "\\left\\{1,2,3\\right\\}"),
        # v4: named, with `=` or `\\in` (math-verify reads Eq(x, value))
        ("\\{1,2\\}", "x = (1, 2)"),
        ("\\{1,2\\}", "x \\in (1, 2)"),
        ("(1,2)", "x = \\{1,2\\}"),
        ("(1,2)", "x \\in \\left\\{1, 2\\right\\}"),
        ("(1,2)", "(x, y) = \\{1,2\\}"),
    ],
)
def test_an_ordered_pair_or_tuple_is_not_a_set(gold, pred):
    assert judged(gold, pred) is True  # math-verify alone calls them equal (or equal as sets) ...
    assert graded(gold, pred) is False  # ... the rules do not


@pytest.mark.parametrize(
    "gold,pred",
    [
        ("(1,2)", "(1,2)"),
        ("(1,2)", "\\left(1, 2\\right)"),
        ("\\{1,2\\}", "\\{2,1\\}"),
        ("\\{1,2\\}", "1, 2"),  # a bare list is read as the set it lists
        ("(1,2,3)", "(1,2,3)"),
        ("(1,2)", "x = (1, 2)"),
        ("\\{1,2\\}", "x \\in \\{2, 1\\}"),
        ("\\{1,2\\}", "\\lbrace 1, 2 \\rbrace"),
        ("\\{1,2\\}", "\\left\\lbrace 1,2 \\right\\rbrace"),
        ("x_{\\infty} = (1,2)", "(1, 2)"),  # `\\infty` is not `\\in`
    ],
)
def test_pairs_and_sets_still_match_their_own_kind(gold, pred):
    assert graded(gold, pred) is True


@pytest.mark.parametrize("pred", ["10", "10\\%", "10%", "0.1", "\\frac{1}{10}", "\\frac{10}{100}"])
def test_a_percent_gold_accepts_the_number_and_the_fraction(pred):
    assert graded("10\\%", pred) is True


@pytest.mark.parametrize("pred", ["0.1\\%", "1", "100", "0.01", "11"])
def test_a_percent_gold_rejects_other_values(pred):
    assert graded("10\\%", pred) is False  # 0.1\% is in percent: 0.1 percent, not 10


@pytest.mark.parametrize(
    "gold,pred",
    [
        ("\\{3\\}", "(3)"),  # a number in brackets is not an ordered pair
        ("[1, 2)", "\\{1\\} \\cup (1, 2)"),  # a union that opens with a set is not a set
    ],
)
def test_only_a_parsed_pair_or_set_counts_as_one(gold, pred):
    assert graded(gold, pred) is True


def test_a_gold_answers_fraction_reading():
    assert parse_gold("28") == Gold(text="28", parsed=parse_boxed("28"), fraction=None)
    assert parse_gold("\\%") == Gold(text="\\%", parsed=[], fraction=None)  # no number: nothing to read
    gold = parse_gold("28 percent")
    assert gold.text == "28\\%" and gold.fraction[0] == Rational(7, 25)


def test_percent_in_the_answer_only():
    assert graded("28", "28\\%") is True  # as in v1: the sign in a bare answer is dropped
    assert graded("0.28", "28\\%") is False  # a gold without percent has no fraction reading
    assert graded("12.5\\%", "\\frac{1}{8}") is True and graded("12.5\\%", "0.125") is True


@pytest.mark.parametrize(
    "gold,pred,expected",
    [  # Math-Verify issue #14: math-verify reads both sequences as one number and calls them equal
        ("1, 2, \\ldots, n", "1, 3, 5, \\ldots, 2n-1", False),
        ("1, 2, \\ldots, n", "1,2,\\dots,n", True),
        ("1, 2, \\ldots, n", "1, 2, \\cdots, n", True),
        ("1, 2, \\ldots, n", "2", False),
        ("1:2:3:\\ldots", "1:4:9:\\ldots", False),
    ],
)
def test_sequences_with_an_ellipsis_are_compared_as_text(gold, pred, expected):
    assert graded(gold, pred) is expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1, 2, \\ldots, n", "1,2,...,n"),
        ("\\left(1,\\ 2, \\dots\\right)", "(1,2,...)"),
        ("1,\\;4,~9, …", "1,4,9,..."),
    ],
)
def test_sequence_text_by_hand(text, expected):
    assert sequence_text(text) == expected


def test_ellipsis_false_positive_of_math_verify():
    assert judged("1, 2, \\ldots, n", "1, 3, 5, \\ldots, 2n-1") is True  # the false verdict the rule fixes


@pytest.mark.parametrize(
    "gold,pred,expected",
    [  # Math-Verify issue #14: \mathrm{e} is not parsed, so `1 - \frac{1}{\mathrm{e}}` was cut short
        ("1 - \\frac{1}{\\mathrm{e}}", "1-\\frac{1}{e}", True),
        ("1 - \\frac{1}{\\mathrm{e}}", "1 - \\frac{1}{\\mathrm{e}}", True),
        ("1 - \\frac{1}{\\mathrm{e}}", "1+\\frac{1}{e}", False),
        ("1 - \\frac{1}{\\mathrm{e}}", "\\frac{e-1}{e}", True),
    ],
)
def test_mathrm_e_is_eulers_number(gold, pred, expected):
    assert graded(gold, pred) is expected


@pytest.mark.parametrize(
    "gold,pred",
    [  # other reports in Math-Verify's tracker that our path already judges wrong (regressions)
        ("19, 46, \\text{ and } 82", "21, 36, and 82"),  # issue #14
        ("12:00", "1:00"),  # issue #14
        ("1331 \\text{ and } 1728", "1728"),  # issue #47: a subset of a multi-part answer
        ("\\{1331, 1728\\}", "1728"),
    ],
)
def test_reported_false_positives_are_wrong(gold, pred):
    assert graded(gold, pred) is False


@pytest.mark.parametrize(
    "gold,pred",
    [
        ("2", "\\lbrace 1, 2 \\rbrace"),  # math-verify 0.9 reads the answer as 2 ...
        ("1.2", "\\left\\lbrace 1,2 \\right\\rbrace"),  # ... and this one as 1.2
    ],
)
def test_a_set_in_brace_words_is_a_set_not_a_number(gold, pred):
    assert judged(gold, pred) is True  # unrewritten, a set of two numbers scored as one of them
    assert graded(gold, pred) is False


def test_the_worker_applies_the_rules():
    from s2lpo_cli.grading.grader import Grader

    pairs = [("\\boxed{\\{1,2\\}}", "(1,2)"), ("\\boxed{0.1}", "10\\%"), ("\\boxed{1, 3, \\ldots}", "1, 2, \\ldots"),
             ("\\boxed{(1,2)}", "(1,2)")]
    with Grader(workers=1, timeout_s=30) as grader:
        assert [g.correct for g in grader.grade(pairs)] == [False, True, False, True]
