"""The text rewrites made before parsing (rewrite.py, rules v3 and v4): each form by hand, and what stays as written."""

import pytest

from s2lpo_cli.grading.rewrite import normalize_text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1 - \\frac{1}{\\mathrm{e}}", "1 - \\frac{1}{e}"),
        ("\\mathrm { e }^{2}", "e^{2}"),
        # digit groups: one number, whatever the separator
        ("10\\,000", "10000"),
        ("1 000 000", "1000000"),
        ("10~000", "10000"),
        ("10\\ 000", "10000"),
        ("10\\;000", "10000"),
        ("10\\thinspace000", "10000"),
        ("10{,}000", "10000"),
        ("10,\\!000", "10000"),
        ("10\\,000.5", "10000.5"),
        ("10\\,000 \\text{ and } 3\\,", "10000 \\text{ and } 3\\,"),  # a separator at the very end groups nothing
        # not digit groups: left as written
        ("12 34", "12 34"),
        ("1234 567", "1234 567"),
        ("1 23 456", "1 23 456"),  # 23 follows a group: not a first group
        ("0.5 000", "0.5 000"),
        # percent words
        ("28 percent", "28\\%"),
        ("28 pct", "28\\%"),
        ("28 percentage", "28\\%"),
        ("28\\text{ percent}", "28\\%"),
        ("28 \\mbox{pct}", "28\\%"),
        ("28 percentile", "28 percentile"),
        # v4: brace words are braces
        ("\\lbrace 1, 2 \\rbrace", "\\{ 1, 2 \\}"),
        ("\\left\\lbrace 1,2 \\right\\rbrace", "\\left\\{ 1,2 \\right\\}"),
        ("\\lbrace\\rbrace", "\\{\\}"),
        ("\\lbraces", "\\lbraces"),  # not the command
    ],
)
def test_normalize_text_by_hand(text, expected):
    assert normalize_text(text) == expected
