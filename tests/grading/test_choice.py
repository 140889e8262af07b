"""The multiple-choice grader: every accepted answer form, wrong letters, and what picks nothing."""

import pytest

from s2lpo_cli.grading.choice import choice_of, grade_choice

CHOICES = {"A": "bank", "B": "ice cream", "C": "library", "D": "A dog", "E": "park"}


@pytest.mark.parametrize(
    "response",
    [
        "It is sweet and cold, so \\boxed{B}.",
        "So the answer is \\boxed{(B)}",
        "\\boxed{B.}",
        "Final: \\boxed{\\text{B}}",
        "\\boxed{\\textbf{B}}",
        "Thinking it over, the answer is B.",
        "The answer is (B)",
        "The answer is: **B**",
        "\\boxed{ice cream}",
        "The answer is ice cream.",
        "\\boxed{(B) ice cream}",
        "\\boxed{B: Ice Cream}",
        "<think>maybe \\boxed{A}</think>It melts. \\boxed{B}",
        "Cold and sweet.\n(B)",
        "Cold and sweet.\nB.",
        # v4: a wrapped letter ended by a period, as the last line (no_answer before)
        'Cold and sweet.\n"B".',
        "Cold and sweet.\n**B**.",
        "Cold and sweet.\n$B$.",
        "Cold and sweet.\n**(B)**.",
        "\\boxed{\\text{B}.}",
    ],
)
def test_accepted_forms_of_the_right_choice(response):
    grade = grade_choice(response, "B", CHOICES)
    assert grade.correct and grade.extracted == "B" and grade.status == "ok"


@pytest.mark.parametrize(
    "response, extracted",
    [
        ("\\boxed{C}", "C"),
        ("the answer is (A)", "A"),
        ("\\boxed{\\text{E}}", "E"),
        ("\\boxed{library}", "C"),
        ("\\boxed{A dog}", "D"),  # a choice's text that starts like a letter is that choice, not A
    ],
)
def test_wrong_letters_and_texts_are_wrong(response, extracted):
    grade = grade_choice(response, "B", CHOICES)
    assert not grade.correct and grade.extracted == extracted and grade.status == "ok"


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{B or C}",
        "\\boxed{BC}",
        "\\boxed{F}",  # not a label of this question
        "\\boxed{(B) library}",  # a letter with another choice's text
        "\\boxed{chocolate}",
        "\\boxed{2}",
    ],
)
def test_anything_else_picks_nothing_and_is_wrong(response):
    grade = grade_choice(response, "B", CHOICES)
    assert not grade.correct and grade.status == "ok"
    assert choice_of(grade.extracted, CHOICES) is None


RIVER = {"A": "bank", "B": "river", "C": "lake", "D": "ocean", "E": "a puddle"}


@pytest.mark.parametrize(
    "response, verdict",
    [  # an answer that opens with a marked letter: the letter decides, unless its text names another choice
        ("B. a river", "B"),
        ("B) river", "B"),
        ("(B) river", "B"),
        ("B: a river", "B"),
        ("(B) a river.", "B"),
        ("b) River", "B"),
        ("Fish live in flowing water.\nB. a river", "B"),
        ("\\boxed{B. a river}", "B"),
        ("The answer is (B) a river", "B"),
        ("B. a flowing river", "B"),  # not another choice's text: the letter decides
        ("(C) a river", "C"),  # the letter decides: C, wrong
        ("B. lake", None),  # a letter with another choice's text
        ("(B) a puddle", None),
        ("B a river", None),  # no mark: a bare letter needs its own text (\"A dog\" is not the letter A)
        ("F. a river", None),  # not a label of this question
    ],
)
def test_answers_opening_with_a_marked_letter(response, verdict):
    grade = grade_choice(response, "B", RIVER)
    assert (choice_of(grade.extracted, RIVER) if grade.extracted else None) == verdict
    assert grade.correct is (verdict == "B")


def test_no_answer_at_all():
    for response in ("I am not sure.", "", "<think>it could be B"):
        grade = grade_choice(response, "B", CHOICES)
        assert not grade.correct and grade.extracted is None and grade.status == "no_answer"


MONEY = {"A": "$5", "B": "$10", "C": "$15"}


@pytest.mark.parametrize(
    "answer, choices, label",
    [  # what `_plain` takes off an answer before it is read (the docstring's list), and what it leaves
        ("$B$", CHOICES, "B"),
        ("\\(B\\)", CHOICES, "B"),
        ("**B**", CHOICES, "B"),
        ('"B"', CHOICES, "B"),
        ("`B`", CHOICES, "B"),
        ("B '.", CHOICES, "B"),  # a stray quote and the final period leave the bare letter
        (".B", CHOICES, None),  # only a final period goes
        ("B $$", CHOICES, None),  # an empty pair of delimiters stays: a bare letter with other text
        ("B **", CHOICES, None),
        ("ice-cream", CHOICES, "B"),  # punctuation inside a choice's text is a space
        ("ICE CREAM", CHOICES, "B"),
        ("$10", MONEY, "B"),  # a `$` that opens no `$...$` span stays
        ("$10$", MONEY, "B"),
        ("BOX", {"A": "fox", "B": "box"}, "B"),  # an answer that ends in X keeps its X
        ("XENON", {"A": "argon", "B": "xenon"}, "B"),  # ... and starts with one
        ("???", {"A": "cat", "B": "dog", "C": "—"}, None),  # all punctuation is no text, not the text "—"
        # v4: wrappers and a final period in any nesting
        ("**B**.", CHOICES, "B"),
        ('"B".', CHOICES, "B"),
        ("$B$.", CHOICES, "B"),
        ("**$B$**", CHOICES, "B"),
        ('"**ice cream**."', CHOICES, "B"),
        ("STRASSE", {"A": "Straße", "B": "road"}, "A"),  # v4: case folded, not lowered (ß is ss)
    ],
)
def test_decorations_around_an_answer(answer, choices, label):
    assert choice_of(answer, choices) == label
