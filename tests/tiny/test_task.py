"""The synthetic task: deterministic from a seed, disjoint splits, answers that are right."""

import re

import pytest

from s2lpo_cli.grading.extract import extract_answer
from s2lpo_cli.tiny import task


def test_same_seed_same_rows_other_seed_other_rows():
    assert task.rows(3, "train", 50) == task.rows(3, "train", 50)
    assert task.rows(3, "train", 50) != task.rows(4, "train", 50)


def test_splits_partition_the_problems():
    heldout = {p.question for p in task.problems(0, "heldout")}
    train = {p.question for p in task.problems(0, "train")}
    every = {p.question for f in task.FAMILIES for p in task.family_problems(f)}
    assert not heldout & train
    assert heldout | train == every
    assert 0.1 < len(heldout) / len(every) < 0.2


def test_every_family_is_present_and_rows_have_the_data_format():
    rows = task.rows(0, "heldout")
    assert {r["family"] for r in rows} == set(task.FAMILIES)
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert set(r) == {"id", "question", "answer", "family"}
        assert re.fullmatch(r"-?\d+", r["answer"])


def _solve(question: str) -> int:
    """An independent solver of the question text (no eval of text)."""
    if m := re.fullmatch(r"What is (\d+) ([+\-*]) (\d+)\?", question):
        a, op, b = int(m[1]), m[2], int(m[3])
        return a + b if op == "+" else a - b if op == "-" else a * b
    m = re.fullmatch(r"Solve for x: (\d+)x ([+-]) (\d+) = (-?\d+)\.", question)
    assert m, question
    a, sign, b, c = int(m[1]), m[2], int(m[3]), int(m[4])
    rest = c - b if sign == "+" else c + b
    assert rest % a == 0
    return rest // a


@pytest.mark.parametrize("split", task.SPLITS)
def test_answers_are_correct(split):
    for p in task.problems(1, split):
        assert int(p.answer) == _solve(p.question)


def test_supervised_response_boxes_the_answer_in_both_modes():
    p = task.problems(0, "train", 1)[0]
    for thinking in (False, True):
        assert extract_answer(p.response(thinking)) == p.answer
    assert p.response(thinking=True).startswith("<think>\n")
