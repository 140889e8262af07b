"""Grading speed: the parallel grader against plain sequential math-verify calls, in one run.

Every MATH-500 gold answer is graded against a response that boxes it and one that boxes a perturbed
copy (a digit changed, or "+1" added): 1,000 pairs. Baseline: `verify(parse(boxed gold), parse(response))`
one pair after another in this process, as plain math-verify code does. The verdicts must be identical.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path

DATA = Path(os.environ.get("S2LPO_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
TARGET_RATIO = 1.8


def perturb(answer: str) -> str:
    """A different answer of the same shape: the first digit changed, else the answer plus one."""
    match = re.search(r"\d", answer)
    if match:
        digit = str((int(match.group()) + 1) % 10)
        return answer[: match.start()] + digit + answer[match.end():]
    return answer + "+1"


def pairs_from(path: Path) -> list[tuple[str, str]]:
    golds = [json.loads(line)["answer"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(f"Working... so the answer is $\\boxed{{{answer}}}$.", gold) for gold in golds for answer in (gold, perturb(gold))]


def sequential(pairs: list[tuple[str, str]]) -> list[bool]:
    from math_verify import parse, verify

    return [bool(verify(parse("\\boxed{" + gold + "}"), parse(response))) for response, gold in pairs]


def main() -> dict[str, float]:
    from s2lpo_cli.grading.grader import Grader

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    pairs = pairs_from(DATA / "math500.jsonl")
    workers = 2

    started = time.perf_counter()
    baseline = sequential(pairs)
    t_sequential = time.perf_counter() - started

    started = time.perf_counter()
    with Grader(workers=workers) as grader:
        grader.grade([(f"\\boxed{{{i}}}", "1") for i in range(workers)])  # wait until every worker is up
        t_start = time.perf_counter() - started
        started = time.perf_counter()
        grades = grader.grade(pairs)
        t_parallel = time.perf_counter() - started

    ours = [g.correct for g in grades]
    differ = [(pairs[i], baseline[i], ours[i]) for i in range(len(pairs)) if baseline[i] != ours[i]]
    figures = {
        "pairs": len(pairs),
        "correct_share": sum(ours) / len(ours),
        "sequential_s": t_sequential,
        "parallel_s": t_parallel,
        "pool_start_s": t_start,
        "speedup": t_sequential / t_parallel,
        "speedup_with_start": t_sequential / (t_parallel + t_start),
        "verdicts_differ": len(differ),
    }
    print(
        f"grading {len(pairs)} MATH-500 pairs: sequential math-verify {t_sequential:.1f} s, "
        f"grader ({workers} workers) {t_parallel:.1f} s (+{t_start:.1f} s pool start): "
        f"{figures['speedup']:.2f}x ({figures['speedup_with_start']:.2f}x counting the start); "
        f"target >= {TARGET_RATIO}x; verdicts differ: {len(differ)}"
    )
    for (response, gold), base, mine in differ[:10]:
        print(f"  gold {gold!r}: math-verify {base}, grader {mine} ({response[-60:]!r})")
    if differ:
        raise SystemExit(f"{len(differ)} verdicts differ from plain math-verify")
    return figures


if __name__ == "__main__":
    main()
