import pytest

from s2lpo_cli.grading.extract import extract_answer, last_boxed, strip_think


@pytest.mark.parametrize(
    "text,expected",
    [
        ("so the result is \\boxed{42}.", "42"),
        ("first \\boxed{1}, finally \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("nested \\boxed{\\frac{\\sqrt{3}}{2}} ok", "\\frac{\\sqrt{3}}{2}"),
        ("escaped braces \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("a set \\boxed{\\left\\{ 1 \\right\\}}", "\\left\\{ 1 \\right\\}"),
        ("an interval \\boxed{\\left\\{ 1 \\right.}", "\\left\\{ 1 \\right."),  # an escaped brace never closed
        ("spaces \\boxed { 7 }", "7"),
        ("no braces \\boxed 5$ done", "5"),
        ("fbox \\fbox{12}", "12"),
        ("$\\boxed{3}$ then an empty \\boxed{} echoed from the prompt", "3"),
        ("complete \\boxed{8} then truncated \\boxed{\\frac{1}{", "8"),
        ("not a box: \\boxedfoo{3}", None),
        ("no answer at all", None),
    ],
)
def test_last_boxed_is_brace_matched(text, expected):
    assert extract_answer(text) == expected


def test_think_block_is_dropped_before_extraction():
    assert extract_answer("<think>maybe \\boxed{3}</think>So \\boxed{4}.") == "4"
    assert extract_answer("<think>maybe \\boxed{3}</think>I am not sure.") is None
    # the prompt opened <think>; the response only closes it
    assert extract_answer("thinking \\boxed{1} ...</think> final: \\boxed{2}") == "2"
    # cut off while thinking: a guess inside the reasoning does not count
    assert extract_answer("<think>try \\boxed{9} and then") is None
    assert strip_think("a<think>b</think>c") == "c"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Therefore, the answer is 17.", "17"),
        ("The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
        ("So the answer is: **x = 2**", "x = 2"),
        ("the answer is \\(2\\pi\\)", "2\\pi"),
        ("The answer is 3.5 meters.\nAnd the answer is 4.", "4"),
        ("The answer is 1. Wait, no, the answer is \\boxed{2}.", "2"),
    ],
)
def test_answer_is_fallback(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("the answer is $$\\frac{1}{2}$$", "\\frac{1}{2}"),  # display math: the inside
        ("The answer is \\[ 5 \\].", "5"),
        ("the answer is $3$ and the check is $3 + 0 = 3$.", "3"),  # the first closing delimiter ends it
        ("The answer is $$\\frac{1}{2}", None),  # cut off inside display math: no answer
        ("The answer is **$x^2$**.", "x^2"),  # bold around math
        ("The answer is **7**.\nDone", "7"),  # bold before a final period
        ("The answer is X.", "X"),  # a capital X is an answer, not decoration
        ("the answer is x = 5\nsince 2x = 10\nand so on", "x = 5"),  # the first line only
        ("The answer is 12. It took long", "12"),  # the first sentence only
        ("The answer is 5...", "5"),  # trailing dots go
        ("The answer is .5", ".5"),  # a leading one stays
    ],
)
def test_answer_is_phrase_loses_delimiters_bold_and_what_follows(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("\\boxed{1}, \\boxed{2}", "1, 2"),
        ("$$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$$", "(2, 2), (6, 2)"),
        ("\\boxed{1} and \\boxed{2} and \\boxed{3}", "1, 2, 3"),
        ("\\[ \\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}. \\]", "-2, 1"),
        ("$\\boxed{1}$; $\\boxed{2}$", "1, 2"),
        ("\\boxed{1} or \\boxed{2}", "2"),  # a hedge: only the last box
        ("\\boxed{1}. So \\boxed{2}", "2"),  # a sentence between
        ("$y_1 = \\boxed{a}$ and $y_2 = \\boxed{b}$", "b"),  # text that is not a joiner
        ("\\boxed{1} \\boxed{} \\boxed{2}", "2"),  # an empty box between
        ("\\boxed{\\boxed{1}}", "1"),  # a box inside a box
    ],
)
def test_boxes_joined_by_commas_or_and_are_one_answer(text, expected):
    assert extract_answer(text) == expected


def test_last_boxed_skips_unclosed_box():
    assert last_boxed("\\boxed{a} \\boxed{b") == "a"
    assert last_boxed("\\boxed{b") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("\\boxed{1}\\boxed{2}", "1, 2"),  # a braced box ends right after its "}": the next one touches it
    ("\\boxed 1 and \\boxed 2", "1, 2"),  # an unbraced box ends after its token, so "and" joins the two
    ("\\boxed{1} and \\boxed 2", "1, 2"),
    ("x \\boxed 7", "7"),
    ("\\boxed5", None),  # not even a box: \boxed5 is another command name
    ("\\boxed-5", None),  # no space: LaTeX would box "-" alone; not read as a box of "-5"
    ("so the answer is \\boxed", None),  # a box at the very end of the text is empty
    ("\\boxed $5$", None),  # no token before the math delimiter
    ("\\boxed{3} then \\boxed", "3"),
])
def test_box_ends_and_unbraced_boxes(text, expected):
    """Where each box ends decides which boxes join into one answer; `\\boxed 5` needs its space."""
    assert last_boxed(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("<think>a</think>draft</think>final", "final"),  # after the last closing tag
    ("</think>5", "5"),  # an empty reasoning block: the tag at position 0 is still a tag
    ("answer<think>x<think>y", "answer"),  # a reasoning block opened after the answer: cut at the first
    ("no tags at all", "no tags at all"),
])
def test_strip_think_cuts_at_the_last_close_and_the_first_open(text, expected):
    assert strip_think(text) == expected
