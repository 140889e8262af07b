"""Grading speed: the parallel grader against plain sequential math-verify calls, in one run.

Every MATH-500 gold answer is graded against a response that boxes it and one that boxes a perturbed
copy (a digit changed, or "+1" added): 1,000 pairs. Baseline: `verify(parse(boxed gold), parse(response))`
one pair after another in this process, as plain math-verify code does. The verdicts must be identical.
The pairs go in two halves with different golds: the first finds both sides cold (math-verify's parser
and sympy fill their caches on first use, in every worker process apart), the second warm, which is what
a training step sees from a pool kept across steps. The target applies to all pairs, the pool's start-up
(its workers importing math-verify) timed apart.
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sequential(pairs: list[tuple[str, str]]) -> list[bool]:
    from math_verify import parse, verify

    return [bool(verify(parse("\\boxed{" + gold + "}"), parse(response))) for response, gold in pairs]


def wait_until_up(grader) -> None:
    """Block until every worker has said it is ready (imported math-verify): the pool's start-up."""
    for worker in grader._workers:
        if not worker.ready:
            kind, cpu = worker.conn.recv()
            assert kind == "ready", kind
            worker.heard(cpu)
            worker.ready = True


def timed(grade, pairs):
    started = time.perf_counter()
    return grade(pairs), time.perf_counter() - started


def main() -> dict[str, float]:
    from s2lpo_cli.grading.grader import Grader

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    pairs = pairs_from(DATA / "math500.jsonl")
    first, second = pairs[: len(pairs) // 2], pairs[len(pairs) // 2 :]  # different golds: no repeated parse
    workers = 2

    load = os.getloadavg()[0]
    cpu_started = time.process_time()
    baseline_first, t_seq_first = timed(sequential, first)
    cpu_seq_first = time.process_time() - cpu_started
    cpu_started = time.process_time()
    baseline_second, t_seq_second = timed(sequential, second)
    cpu_seq_second = time.process_time() - cpu_started

    started = time.perf_counter()
    with Grader(workers=workers) as grader:
        wait_until_up(grader)
        t_start = time.perf_counter() - started
        pids = [w.process.pid for w in grader._workers]
        cpu_before = [cpu_seconds(pid) for pid in pids]
        grades_first, t_first = timed(grader.grade, first)
        cpu_between = [cpu_seconds(pid) for pid in pids]
        grades_second, t_second = timed(grader.grade, second)
        cpu_first = [b - a for a, b in zip(cpu_before, cpu_between, strict=True)]
        cpu_second = [cpu_seconds(pid) - b for pid, b in zip(pids, cpu_between, strict=True)]

    baseline = baseline_first + baseline_second
    ours = [g.correct for g in grades_first + grades_second]
    differ = [(pairs[i], baseline[i], ours[i]) for i in range(len(pairs)) if baseline[i] != ours[i]]
    figures = {
        "pairs": len(pairs),
        "correct_share": sum(ours) / len(ours),
        "pool_start_s": t_start,
        "cold_sequential_s": t_seq_first,
        "cold_parallel_s": t_first,
        "cold_speedup": t_seq_first / t_first,
        "cold_speedup_with_start": t_seq_first / (t_first + t_start),
        "warm_sequential_s": t_seq_second,
        "warm_parallel_s": t_second,
        "warm_speedup": t_seq_second / t_second,
        "speedup": (t_seq_first + t_seq_second) / (t_first + t_second),
        "speedup_with_start": (t_seq_first + t_seq_second) / (t_first + t_second + t_start),
        "verdicts_differ": len(differ),
        "load_average": load,
        "cold_cpu_speedup": cpu_seq_first / max(cpu_first),
        "cpu_speedup": cpu_seq_second / max(cpu_second),
    }
    met = "meets" if figures["speedup"] >= TARGET_RATIO else "MISSES"
    print(
        f"grading {len(pairs)} MATH-500 pairs in two halves of {len(first)} (other golds in each), "
        f"sequential math-verify in this process against the grader's {workers} worker processes; "
        f"load average at start {load:.1f} on {os.cpu_count()} cores\n"
        f"  first half, both cold (fresh parser caches; a new pool, started in {t_start:.1f} s): "
        f"{t_seq_first:.2f} s against {t_first:.2f} s = {figures['cold_speedup']:.2f}x "
        f"({figures['cold_speedup_with_start']:.2f}x counting the start); CPU time sequential "
        f"{cpu_seq_first:.2f} s, workers {', '.join(f'{c:.2f}' for c in cpu_first)} s\n"
        f"  second half, both warm (as in training, where the pool lives across steps): "
        f"{t_seq_second:.2f} s against {t_second:.2f} s = {figures['warm_speedup']:.2f}x; CPU time sequential "
        f"{cpu_seq_second:.2f} s, workers {', '.join(f'{c:.2f}' for c in cpu_second)} s "
        f"(sequential / busiest: {figures['cpu_speedup']:.2f}x)\n"
        f"  all {len(pairs)}: {figures['speedup']:.2f}x ({figures['speedup_with_start']:.2f}x counting the pool's "
        f"start), {met} the >= {TARGET_RATIO}x target; verdicts differ: {len(differ)}"
    )
    for (response, gold), base, mine in differ[:10]:
        print(f"  gold {gold!r}: math-verify {base}, grader {mine} ({response[-60:]!r})")
    if differ:
        raise SystemExit(f"{len(differ)} verdicts differ from plain math-verify")
    return figures


if __name__ == "__main__":
    main()
