"""The synthetic math task: small arithmetic and linear equations, generated deterministically from a seed.

Every problem of every family is enumerated, then assigned to one split (held-out, train or warm-up) by a
hash of the seed and the question, so the splits never share a question and the same seed always gives the
same rows. Answers are integers written as raw LaTeX, the format of the real data (`"-7"`, `"42"`).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

FAMILIES = ("add", "sub", "mul", "linear")
SPLITS = ("heldout", "train", "warmup")
HELDOUT_SIZE = 200
TRAIN_SIZE = 1000
DEFAULT_SEED = 0
ADD_SUB_RANGE = 25  # operands 0..24: some carries, some negative differences
TINY_INSTRUCTION = "Put the final answer in \\boxed{}."  # the prompt instruction of recipes/tiny.yaml


@dataclass(frozen=True)
class Problem:
    family: str
    question: str
    answer: str
    work: str  # the short worked solution a warmed-up model writes before its boxed answer

    def response(self, thinking: bool = False) -> str:
        """The supervised response: the work, then the answer in \\boxed{} (inside a think block if thinking)."""
        if thinking:
            return f"<think>\n{self.work}\n</think>\n\n\\boxed{{{self.answer}}}"
        return f"{self.work}. \\boxed{{{self.answer}}}"

    def as_row(self, row_id: str) -> dict[str, str]:
        return {"id": row_id, "question": self.question, "answer": self.answer, "family": self.family}


def _signed(term: int) -> str:
    return f"+ {term}" if term >= 0 else f"- {-term}"


def _enumerate(family: str) -> list[Problem]:
    problems = []
    if family == "add":
        for a in range(ADD_SUB_RANGE):
            for b in range(ADD_SUB_RANGE):
                problems.append(Problem(family, f"What is {a} + {b}?", str(a + b), f"{a}+{b}={a + b}"))
    elif family == "sub":
        for a in range(ADD_SUB_RANGE):
            for b in range(ADD_SUB_RANGE):
                problems.append(Problem(family, f"What is {a} - {b}?", str(a - b), f"{a}-{b}={a - b}"))
    elif family == "mul":
        for a in range(2, 13):
            for b in range(2, 13):
                problems.append(Problem(family, f"What is {a} * {b}?", str(a * b), f"{a}*{b}={a * b}"))
    elif family == "linear":
        for a in range(2, 6):
            for x in range(10):
                for b in range(-10, 16):
                    c = a * x + b
                    question = f"Solve for x: {a}x {_signed(b)} = {c}."
                    problems.append(Problem(family, question, str(x), f"{a}x={c - b}, x={x}"))
    else:
        raise ValueError(f"unknown family {family!r}")
    return problems


def _split_of(seed: int, question: str) -> str:
    """10% held-out, 40% train, 50% warm-up, by a hash of (seed, question)."""
    bucket = int.from_bytes(hashlib.sha256(f"{seed}:{question}".encode()).digest()[:4], "big") % 10
    return "heldout" if bucket == 0 else "train" if bucket < 5 else "warmup"


def split_pool(seed: int, split: str, family: str) -> list[Problem]:
    """All problems of one family in one split, in a seed-determined order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    pool = [p for p in _enumerate(family) if _split_of(seed, p.question) == split]
    random.Random(f"{seed}:{split}:{family}").shuffle(pool)
    return pool


def problems(seed: int, split: str, n: int) -> list[Problem]:
    """`n` problems of one split, the families interleaved round-robin (equal shares, a fixed order)."""
    pools = {family: split_pool(seed, split, family) for family in FAMILIES}
    out: list[Problem] = []
    index = 0
    while len(out) < n:
        added = False
        for family in FAMILIES:
            if index < len(pools[family]) and len(out) < n:
                out.append(pools[family][index])
                added = True
        if not added:
            break
        index += 1
    return out


def rows(seed: int, split: str, n: int | None = None) -> list[dict[str, str]]:
    """Rows {"id", "question", "answer", "family"} of a split (default size: HELDOUT_SIZE or TRAIN_SIZE)."""
    size = n if n is not None else (HELDOUT_SIZE if split == "heldout" else TRAIN_SIZE)
    return [p.as_row(f"synthetic-{split}-{i:05d}") for i, p in enumerate(problems(seed, split, size))]
