"""verl's reward path: graded answers per second through `compute_score`, against the previous path, in one run.

Both are called as verl's naive reward manager calls them, every answer of the step in flight at once:
the previous path, a plain function, through the event loop's thread pool, each call sending its one
answer to the process's single grading worker behind a lock (`grade_one`); the current one, a
coroutine, awaited directly, every pending answer joining one batch for a pool of grading processes
sized to the node. MATH-500 gold answers, each with a response boxing it and one boxing a perturbed
copy, repeated up to the size. Both paths give up on an answer after GRADE_TIMEOUT_S and score it
0.0 with a `timeout` flag; on a loaded machine some answers time out on one path and not the other.
Those are counted apart, and regraded alone with a generous limit to show which verdict was right;
every answer graded on both paths without a timeout must get the same verdict.

    python -m bench.bench_reward                  # 512 answers (what `make bench` runs)
    python -m bench.bench_reward --answers 2048   # any size
    python -m bench.bench_reward --full           # 16,384: step 1 of 4b_8b (1,024 prompts x 16 explorer responses)
    python -m bench.bench_reward --grade-timeout 0.3   # a tight limit: the timeouts of an overloaded machine
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time

from bench.bench_grading import DATA, pairs_from

DEFAULT_ANSWERS = 512  # the previous path is slow on a busy 2-core machine
FULL_ANSWERS = 16384


def previous_compute_score(data_source, solution_str, ground_truth, extra_info=None, **_):
    """The reward function as it was: one shared single-process grader per process, behind a lock."""
    from s2lpo_cli.grading.grader import grade_one
    from s2lpo_cli.verl_ext.reward import GRADE_TIMEOUT_S

    grade = grade_one(solution_str, str(ground_truth), timeout_s=GRADE_TIMEOUT_S)
    return {"score": 1.0 if grade.correct else 0.0, "timeout": 1.0 if grade.status == "timeout" else 0.0}


async def through_threads(pairs: list[tuple[str, str]]) -> list[dict]:
    """A plain reward function as verl's naive manager runs it: `loop.run_in_executor(None, ...)`."""
    loop = asyncio.get_running_loop()
    calls = [loop.run_in_executor(None, lambda r=r, g=g: previous_compute_score("math", r, g)) for r, g in pairs]
    return list(await asyncio.gather(*calls))


async def awaited(pairs: list[tuple[str, str]], reward_workers_per_node: int) -> list[dict]:
    """A coroutine reward function as verl's naive manager runs it: awaited on the worker's event loop."""
    from s2lpo_cli.verl_ext.reward import compute_score

    calls = [compute_score("math", r, g, reward_workers_per_node=reward_workers_per_node) for r, g in pairs]
    return list(await asyncio.gather(*calls))


def timed(run) -> tuple[list[dict], float]:
    started = time.perf_counter()
    results = asyncio.run(run)
    return results, time.perf_counter() - started


def compare(pairs: list[tuple[str, str]], before: list[dict], after: list[dict]) -> dict[str, int]:
    """Timeouts on each path, real disagreements, and whether a regrade alone (60 s limit) of an answer
    that timed out on one path only gives the other path's verdict."""
    from s2lpo_cli.grading.grader import Grader

    both = list(zip(before, after, strict=True))
    one_side = [i for i, (b, a) in enumerate(both) if b["timeout"] != a["timeout"]]
    disagree = [i for i, (b, a) in enumerate(both) if not (b["timeout"] or a["timeout"]) and b["score"] != a["score"]]
    regraded_agree = 0
    if one_side:
        with Grader(workers=1, timeout_s=60.0) as grader:
            regrades = grader.grade([pairs[i] for i in one_side])
        for i, grade in zip(one_side, regrades, strict=True):
            other = after[i] if before[i]["timeout"] else before[i]
            regraded_agree += grade.status != "timeout" and float(grade.correct) == other["score"]
    return {"previous_timeouts": sum(int(b["timeout"]) for b in before),
            "current_timeouts": sum(int(a["timeout"]) for a in after),
            "timeouts_on_both": sum(int(b["timeout"] and a["timeout"]) for b, a in both),
            "timeouts_on_one": len(one_side), "regraded_agree": regraded_agree, "verdicts_differ": len(disagree)}


def main(argv: list[str] | None = None) -> dict[str, float]:
    from s2lpo_cli.verl_ext import reward
    from s2lpo_cli.verl_ext.reward import pool_size

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=DEFAULT_ANSWERS, help="how many answers are in flight")
    parser.add_argument("--full", action="store_true", help=f"{FULL_ANSWERS} answers (step 1 of 4b_8b)")
    parser.add_argument("--grade-timeout", type=float, help="per-answer grading limit of both paths, seconds "
                        f"(default: the reward function's {reward.GRADE_TIMEOUT_S:g})")
    args = parser.parse_args(argv if argv is not None else [])
    if args.grade_timeout:
        reward.GRADE_TIMEOUT_S = args.grade_timeout  # read when both paths start their graders, below
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    base = pairs_from(DATA / "math500.jsonl")
    n = FULL_ANSWERS if args.full else args.answers
    pairs = [(f"{base[i % len(base)][0]} (#{i})", base[i % len(base)][1]) for i in range(n)]
    per_node = 1  # one reward worker on this machine: its pool gets every CPU
    # both graders started before timing (their processes import sympy and math-verify)
    timed(through_threads(pairs[:2]))
    timed(awaited(pairs[:2], per_node))
    load = os.getloadavg()[0]
    before, t_before = timed(through_threads(pairs))
    after, t_after = timed(awaited(pairs, per_node))
    checked = compare(pairs, before, after)
    figures = {
        "answers": n, "grading_processes": pool_size(per_node), "previous_s": t_before, "current_s": t_after,
        "previous_answers_per_s": n / t_before, "current_answers_per_s": n / t_after, "speedup": t_before / t_after,
        **checked, "correct_share": sum(a["score"] for a in after) / n, "load_average": load,
    }
    print(
        f"reward function, {n} MATH-style answers in flight: previous path (thread pool, one grading process "
        f"behind a lock) {n / t_before:.0f} answers/s ({t_before:.1f} s); current path (awaited, "
        f"{figures['grading_processes']} grading processes) {n / t_after:.0f} answers/s ({t_after:.1f} s): "
        f"{figures['speedup']:.2f}x; grading timeouts: previous {checked['previous_timeouts']}, current "
        f"{checked['current_timeouts']}, both {checked['timeouts_on_both']} (of the {checked['timeouts_on_one']} on "
        f"one path only, {checked['regraded_agree']} regraded alone give the other path's verdict); verdicts differ "
        f"without a timeout: {checked['verdicts_differ']}; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    if checked["verdicts_differ"]:
        raise SystemExit(f"{checked['verdicts_differ']} verdicts differ between the two paths without a timeout")
    return figures


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
