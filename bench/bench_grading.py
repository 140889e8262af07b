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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sequential(pairs: list[tuple[str, str]]) -> list[bool]:
    from math_verify import parse, verify

    return [bool(verify(parse("\\boxed{" + gold + "}"), parse(response))) for response, gold in pairs]


def main() -> dict[str, float]:
    from s2lpo_cli.grading.grader import Grader

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    pairs = pairs_from(DATA / "math500.jsonl")
    workers = 2

    load = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    baseline = sequential(pairs)
    t_sequential, cpu_sequential = time.perf_counter() - started, time.process_time() - cpu_started

    started = time.perf_counter()
    with Grader(workers=workers) as grader:
        grader.grade([(f"\\boxed{{{i}}}", "1") for i in range(workers)])  # wait until every worker is up
        t_start = time.perf_counter() - started
        pids = [w.process.pid for w in grader._workers]
        cpu_before = [cpu_seconds(pid) for pid in pids]
        started = time.perf_counter()
        grades = grader.grade(pairs)
        t_parallel = time.perf_counter() - started
        cpu_workers = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]

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
        "load_average": load,
        "sequential_cpu_s": cpu_sequential,
        "busiest_worker_cpu_s": max(cpu_workers),
        "cpu_speedup": cpu_sequential / max(cpu_workers),
    }
    print(
        f"grading {len(pairs)} MATH-500 pairs: sequential math-verify {t_sequential:.1f} s, "
        f"grader ({workers} workers) {t_parallel:.1f} s (+{t_start:.1f} s pool start): "
        f"{figures['speedup']:.2f}x ({figures['speedup_with_start']:.2f}x counting the start); "
        f"target >= {TARGET_RATIO}x; verdicts differ: {len(differ)}\n"
        f"  CPU time: sequential {cpu_sequential:.1f} s, workers {', '.join(f'{c:.1f}' for c in cpu_workers)} s "
        f"(sequential / busiest: {figures['cpu_speedup']:.2f}x, the wall-clock ratio on two otherwise idle cores); "
        f"load average at start {load:.1f} on {os.cpu_count()} cores"
    )
    for (response, gold), base, mine in differ[:10]:
        print(f"  gold {gold!r}: math-verify {base}, grader {mine} ({response[-60:]!r})")
    if differ:
        raise SystemExit(f"{len(differ)} verdicts differ from plain math-verify")
    return figures


if __name__ == "__main__":
    main()
