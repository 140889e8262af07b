"""The synthetic math tasks, generated deterministically from a seed.

Two tasks share three families of arithmetic facts (add, sub, mul). `arith` adds linear equations: every
problem is a fact to memorise, and the warm-up sees all of them. `transfer` adds `chain` (`What is 7 + 5 -
3?`, worked as `7+5=12, 12-3=9`): a procedure whose steps are facts of the add and sub families, and whose
held-out problems no warm-up sees, so solving one means carrying the procedure over to new operands.

Every problem of a task's families is enumerated (about a thousand), then assigned to the held-out split
(15%) or the train split by a hash of the seed and the question, so the two never share a question and the
same seed always gives the same rows. The spaces are small on purpose: a tiny model warmed up on them for a
minute answers some of them right, not all. Answers are integers written as raw LaTeX, the format of the
real data (`"-7"`, `"42"`).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

TASKS = {"arith": ("add", "sub", "mul", "linear"), "transfer": ("add", "sub", "mul", "chain")}
# Families a task's warm-ups may draw from beyond its own: never an RL prompt, never scored.
WARMUP_ONLY = {"arith": (), "transfer": ("sum3",)}
DEFAULT_TASK = "arith"
FAMILIES = TASKS[DEFAULT_TASK]
PROCEDURES = ("chain",)  # families whose held-out problems the warm-up never sees
SPLITS = ("heldout", "train")
DEFAULT_SEED = 0
TINY_INSTRUCTION = "Put the final answer in \\boxed{}."  # the prompt instruction of recipes/tiny.yaml


@dataclass(frozen=True)
class Problem:
    family: str
    question: str
    answer: str
    work: str  # the short worked solution a warmed-up model writes before its boxed answer

    def response(self, thinking: bool = False) -> str:
        """The supervised response: the work, then the answer in \\boxed{} (work in <think> if thinking)."""
        if thinking:
            return f"<think>\n{self.work}\n</think>\n\n\\boxed{{{self.answer}}}"
        return f"{self.work}. \\boxed{{{self.answer}}}"

    def as_row(self, row_id: str) -> dict[str, str]:
        return {"id": row_id, "question": self.question, "answer": self.answer, "family": self.family}


def _signed(term: int) -> str:
    return f"+ {term}" if term >= 0 else f"- {-term}"


def _enumerate(family: str) -> list[Problem]:
    problems = []
    if family in ("add", "sub"):
        for a in range(16):
            for b in range(16):
                c = a + b if family == "add" else a - b
                op = "+" if family == "add" else "-"
                problems.append(Problem(family, f"What is {a} {op} {b}?", str(c), f"{a}{op}{b}={c}"))
    elif family == "mul":
        for a in range(2, 13):
            for b in range(2, 13):
                problems.append(Problem(family, f"What is {a} * {b}?", str(a * b), f"{a}*{b}={a * b}"))
    elif family in ("chain", "sum3"):
        # chain's steps are an add fact and a sub fact (operands 0-15); c >= 1, so the sum alone is never
        # right. sum3 is its sibling in the same worked format with two add facts (`7+5=12, 12+3=15`).
        op = "-" if family == "chain" else "+"
        for a in range(1, 10):
            for b in range(1, 10):
                for c in range(1, 10):
                    if a + b <= 15:
                        s, t = a + b, a + b - c if family == "chain" else a + b + c
                        problems.append(Problem(family, f"What is {a} + {b} {op} {c}?", str(t),
                                                f"{a}+{b}={s}, {s}{op}{c}={t}"))
    elif family == "linear":
        for a in range(2, 6):
            for x in range(10):
                for b in range(-4, 6):
                    c = a * x + b
                    question = f"Solve for x: {a}x {_signed(b)} = {c}."
                    problems.append(Problem(family, question, str(x), f"{a}x={c - b}, x={x}"))
    else:
        raise ValueError(f"unknown family {family!r}")
    return problems


def _split_of(seed: int, question: str) -> str:
    """15% held-out, 85% train, by a hash of (seed, question)."""
    bucket = int.from_bytes(hashlib.sha256(f"{seed}:{question}".encode()).digest()[:4], "big") % 20
    return "heldout" if bucket < 3 else "train"


def family_problems(family: str) -> list[Problem]:
    """Every problem of a family, both splits (what the warm-up draws from)."""
    return _enumerate(family)


def warmup_problems(family: str, seed: int) -> list[Problem]:
    """What the warm-up draws from: every problem of a fact family, the train split of a procedure family."""
    every = _enumerate(family)
    return [p for p in every if _split_of(seed, p.question) == "train"] if family in PROCEDURES else every


def problems(seed: int, split: str, n: int | None = None, task: str = DEFAULT_TASK) -> list[Problem]:
    """The problems of a split (all, or the first `n`), families shuffled together in a seed-fixed order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    pool = [p for family in TASKS[task] for p in _enumerate(family) if _split_of(seed, p.question) == split]
    random.Random(f"{seed}:{split}").shuffle(pool)
    return pool[:n] if n is not None else pool


def rows(seed: int, split: str, n: int | None = None, task: str = DEFAULT_TASK) -> list[dict[str, str]]:
    """Rows {"id", "question", "answer", "family"} of a split."""
    return [p.as_row(f"synthetic-{split}-{i:05d}") for i, p in enumerate(problems(seed, split, n, task))]
