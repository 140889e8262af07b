"""Digit groups and percent words, graded through `s2lpo eval --responses` (rules v3, docs/grading-policy.md).

math-verify reads `10\\,000` or `1 000` as a product (10 * 000 = 0): right against gold 0, wrong against
10000. And it cannot read `28 percent`. The verdicts below were worked out by hand from the rules.
"""

import pytest

from .eval_path import grade_via_eval

RIGHT, WRONG = True, False
CASES = [  # (response, gold, verdict)
    # thousands grouping: one number, whatever the separator
    ("\\boxed{10\\,000}", "10000", RIGHT),
    ("\\boxed{1 000}", "1000", RIGHT),
    ("\\boxed{10~000}", "10000", RIGHT),
    ("\\boxed{10\\ 000}", "10000", RIGHT),
    ("\\boxed{10{,}000}", "10000", RIGHT),
    ("\\boxed{10,\\!000}", "10000", RIGHT),
    ("\\boxed{1\\,000\\,000}", "1000000", RIGHT),
    ("\\boxed{10\\,000.5}", "10000.5", RIGHT),
    ("\\boxed{10000}", "10\\,000", RIGHT),  # a grouped gold
    ("\\boxed{\\$1\\,250}", "1250", RIGHT),
    # the false positives: a grouped number is not the product of its groups
    ("\\boxed{10\\,000}", "0", WRONG),
    ("\\boxed{1 000}", "0", WRONG),
    ("\\boxed{2\\,000}", "0", WRONG),
    ("\\boxed{1\\,001}", "1", WRONG),  # 1 * 001 = 1
    ("\\boxed{5\\,005}", "25", WRONG),  # 5 * 005 = 25
    ("\\boxed{3 002}", "6", WRONG),
    ("\\boxed{0}", "10\\,000", WRONG),
    # not grouping: groups of other than three digits
    ("\\boxed{12 34}", "1234", WRONG),
    ("\\boxed{1234 567}", "1234567", WRONG),
    ("\\boxed{1 23 456}", "123456", WRONG),
    # percent words are a percent sign
    ("\\boxed{28 percent}", "28", RIGHT),
    ("\\boxed{28 pct}", "28", RIGHT),
    ("\\boxed{28 percentage}", "28", RIGHT),
    ("\\boxed{28\\text{ percent}}", "28", RIGHT),
    ("\\boxed{28\\%}", "28", RIGHT),
    ("\\boxed{28 percent}", "28\\%", RIGHT),
    ("\\boxed{0.28}", "28 percent", RIGHT),  # a percent gold accepts its fraction
    ("\\boxed{29 percent}", "28", WRONG),
    ("\\boxed{0.28 percent}", "28\\%", WRONG),  # an answer with its own percent is read in percent
]


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    rows = [(f"case-{i}", response, gold) for i, (response, gold, _) in enumerate(CASES)]
    return grade_via_eval(tmp_path_factory.mktemp("number_forms"), rows)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{r} vs {g}" for r, g, _ in CASES])
def test_digit_groups_and_percent_words(verdicts, index):
    response, gold, expected = CASES[index]
    graded = verdicts[f"case-{index}"]
    assert graded["status"] == "ok"
    assert graded["correct"] is expected, f"{response} against gold {gold}"
