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
    if m := re.fullmatch(r"What is (\d+) \+ (\d+) - (\d+)\?", question):
        return int(m[1]) + int(m[2]) - int(m[3])
    if m := re.fullmatch(r"What is (\d+) ([+\-*]) (\d+)\?", question):
        a, op, b = int(m[1]), m[2], int(m[3])
        return a + b if op == "+" else a - b if op == "-" else a * b
    m = re.fullmatch(r"Solve for x: (\d+)x ([+-]) (\d+) = (-?\d+)\.", question)
    assert m, question
    a, sign, b, c = int(m[1]), m[2], int(m[3]), int(m[4])
    rest = c - b if sign == "+" else c + b
    assert rest % a == 0
    return rest // a


@pytest.mark.parametrize("name", task.TASKS)
@pytest.mark.parametrize("split", task.SPLITS)
def test_answers_are_correct(split, name):
    for p in task.problems(1, split, task=name):
        assert int(p.answer) == _solve(p.question)


def test_the_transfer_task_swaps_linear_for_chain_and_keeps_the_fact_families():
    transfer = task.rows(0, "train", task="transfer")
    assert {r["family"] for r in transfer} == {"add", "sub", "mul", "chain"}
    arith_facts = [r for r in task.rows(0, "train") if r["family"] != "linear"]
    assert {r["question"] for r in transfer if r["family"] != "chain"} == {r["question"] for r in arith_facts}


def test_chain_steps_are_an_add_and_a_sub_fact_and_the_first_sum_is_never_the_answer():
    adds = {p.question for p in task.family_problems("add")}
    subs = {p.question for p in task.family_problems("sub")}
    chains = task.family_problems("chain")
    assert len(chains) == 75 * 9  # (a, b) in 1..9 with a + b <= 15: 81 - 6 pairs; c in 1..9
    for p in chains:
        a, b, c = map(int, re.findall(r"\d+", p.question))
        assert f"What is {a} + {b}?" in adds and f"What is {a + b} - {c}?" in subs
        assert p.answer != str(a + b)
        assert p.work == f"{a}+{b}={a + b}, {a + b}-{c}={a + b - c}"


def test_sum3_is_chain_s_sibling_in_the_same_format_with_two_add_steps_and_never_an_rl_prompt():
    sums = task.family_problems("sum3")
    assert len(sums) == 675
    by_operands = {tuple(map(int, re.findall(r"\d+", p.question))): p for p in task.family_problems("chain")}
    for p in sums:
        a, b, c = map(int, re.findall(r"\d+", p.question))
        assert (p.question, p.answer, p.work) == (f"What is {a} + {b} + {c}?", str(a + b + c),
                                                   f"{a}+{b}={a + b}, {a + b}+{c}={a + b + c}")
        # the chain with the same operands differs in the question's and the work's second operator only
        assert by_operands[a, b, c].work == p.work.replace(f"{a + b}+{c}", f"{a + b}-{c}").replace(
            f"={a + b + c}", f"={a + b - c}")
    assert task.WARMUP_ONLY["transfer"] == ("sum3",) and "sum3" not in task.TASKS["transfer"]
    assert not any(r["family"] == "sum3" for split in task.SPLITS for r in task.rows(0, split, task="transfer"))


def test_the_warm_up_never_sees_a_held_out_chain_but_sees_every_fact():
    heldout_chains = {p.question for p in task.problems(0, "heldout", task="transfer") if p.family == "chain"}
    warmup_chains = {p.question for p in task.warmup_problems("chain", 0)}
    assert heldout_chains and not heldout_chains & warmup_chains
    assert len(warmup_chains) + len(heldout_chains) == 675
    assert task.warmup_problems("add", 0) == task.family_problems("add")


def test_supervised_response_boxes_the_answer_in_both_modes():
    p = task.problems(0, "train", 1)[0]
    for thinking in (False, True):
        assert extract_answer(p.response(thinking)) == p.answer
    assert p.response(thinking=True).startswith("<think>\n")
