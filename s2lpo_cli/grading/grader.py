"""Grade responses against gold answers in a pool of worker processes, with a hard per-answer time limit.

math-verify's own timeouts use signal.alarm: they fail in threads, misbehave with float limits and raise a
TimeoutException that is not an Exception. So the grader never relies on them: each worker process judges
one answer at a time and reports after each, with the CPU time it has used; a worker that spends more than
`timeout_s` of CPU time on one answer is killed and replaced. That answer is graded wrong with status
"timeout" and the run goes on. CPU time, not the wall clock, so that a verdict does not depend on how busy
the machine is: a worker that waits for a core is not killed for it. One silent for WALL_LIMIT_FACTOR times
`timeout_s` of wall clock is killed whatever its CPU time (it blocks rather than computes); where another
process's CPU time cannot be read (no /proc), the wall clock alone decides. Plain integers on both
sides are judged here, without a worker (exact_match.py). Answers are sent in jobs
that share a gold, whose gold is parsed once per worker (cached); that parse has `timeout_s` too, and a gold
whose parse hangs fails all its answers with "timeout" without a try each.
"""

from __future__ import annotations

import atexit
import math
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Literal

from s2lpo_cli.grading.exact_match import integer_verdict
from s2lpo_cli.grading.extract import extract_answer

Status = Literal["ok", "no_answer", "timeout", "error"]
MAX_JOB_ANSWERS = 16  # answers sent to a worker at once (all share one gold)
PIPELINE_DEPTH = 2  # jobs sent ahead to a worker, so that it never waits for this process to be scheduled
STARTUP_TIMEOUT_S = 120.0  # a fresh worker imports sympy and math-verify (slow on a busy machine)
WALL_LIMIT_FACTOR = 20  # a worker silent for this many times timeout_s of wall clock is killed whatever its CPU time


@dataclass(frozen=True)
class Grade:
    """The verdict on one response. `extracted` is the answer taken from it (None: it gave none)."""

    correct: bool
    extracted: str | None
    status: Status


@dataclass
class _Job:
    gold: str
    items: list[tuple[int, str]]  # (index of the pair, extracted answer)


# `python -m` would put the working folder first on sys.path: a checkout there (another version of
# s2lpo_cli) would grade instead of the code this process runs. `-c` puts it there as '', removed here.
_WORKER_MAIN = (
    "import sys; sys.path[:] = [p for p in sys.path if p != '']; "
    "from s2lpo_cli.grading.worker import main; main(sys.argv[1:])"
)


def _worker_env() -> dict[str, str]:
    """The worker imports s2lpo_cli from wherever this process did, installed or not."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process `pid` has used, from /proc; None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # fields from the 3rd on: utime is the 14th
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Worker:
    """One worker process (a fresh interpreter: safe whatever threads, CUDA or __main__ the caller has)."""

    def __init__(self, timeout_s: float) -> None:
        from_worker, to_parent = os.pipe()
        from_parent, to_worker = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_MAIN, str(from_parent), str(to_parent)],
            pass_fds=(from_parent, to_parent),
            stdin=subprocess.DEVNULL,
            env=_worker_env(),
        )
        os.close(from_parent)
        os.close(to_parent)
        self.conn = Connection(from_worker, writable=False)
        self._out = Connection(to_worker, readable=False)
        self.ready = False  # it says so once math-verify is imported
        self.jobs: deque[_Job] = deque()  # sent, in order; the first is the one being judged
        self.done = 0  # answers of the first job judged so far
        self.gold_ready = False  # the first job's gold is parsed
        self.timeout_s = timeout_s
        self.cpu = 0.0  # the CPU time it reported last
        self.clock = (time.monotonic(), 0.0)  # wall clock and CPU time when its current reply began
        self.deadline = time.monotonic() + STARTUP_TIMEOUT_S  # when to look at its clock next

    def send(self, job: _Job) -> None:
        self._out.send((job.gold, [answer for _, answer in job.items]))
        if not self.jobs:  # it was idle: the clock starts now
            self._start_clock()
        self.jobs.append(job)

    def heard(self, cpu: float) -> None:
        """It replied, having used `cpu` seconds of CPU time so far: the clock starts again for the next reply."""
        self.cpu = cpu
        self._start_clock()

    def _start_clock(self) -> None:
        now = time.monotonic()
        self.clock = (now, self.cpu)
        self.deadline = now + self.timeout_s

    def out_of_time(self) -> bool:
        """At its deadline: has it spent timeout_s of CPU time on this reply? If not, the deadline moves on."""
        now = time.monotonic()
        started, cpu_at_start = self.clock
        cpu = cpu_seconds(self.process.pid)
        used = now - started if cpu is None else max(0.0, cpu - cpu_at_start)
        wall_limit = started + WALL_LIMIT_FACTOR * self.timeout_s
        if used >= self.timeout_s or now >= wall_limit:
            return True
        self.deadline = min(now + max(self.timeout_s - used, 0.01), wall_limit)  # the soonest it could be out
        return False

    def next_job(self) -> None:
        self.jobs.popleft()
        self.done, self.gold_ready = 0, False

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.conn.close()
        self._out.close()

    def close(self) -> None:
        self._out.close()  # the worker sees EOF and exits
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.conn.close()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Grader:
    """A pool of grading processes. Use as a context manager, or call close()."""

    def __init__(self, workers: int | None = None, timeout_s: float = 5.0) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.n_workers = max(1, workers or default_workers())
        self.timeout_s = timeout_s
        self._workers: list[_Worker] = []
        self.restarts = 0  # workers killed and replaced (timeouts, crashes)

    def __enter__(self) -> Grader:
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        while len(self._workers) < self.n_workers:
            self._workers.append(_Worker(self.timeout_s))

    def close(self) -> None:
        for worker in self._workers:
            worker.close()
        self._workers = []

    def grade(
        self, pairs: list[tuple[str, str]], progress: Callable[[int], None] | None = None
    ) -> list[Grade]:
        """Grade (response_text, gold_answer) pairs; `progress(n)` is called as n more are done."""
        self._start()
        extracted = [extract_answer(response) for response, _ in pairs]
        grades: list[Grade | None] = [None] * len(pairs)

        def finish(index: int, correct: bool, status: Status) -> None:
            grades[index] = Grade(correct, extracted[index], status)
            if progress:
                progress(1)

        by_gold: dict[str, list[tuple[int, str]]] = {}
        for index, ((_, gold), answer) in enumerate(zip(pairs, extracted, strict=True)):
            if answer is None:
                finish(index, False, "no_answer")
            elif (verdict := integer_verdict(answer, gold)) is not None:
                finish(index, verdict, "ok")
            else:
                by_gold.setdefault(gold, []).append((index, answer))
        n_pending = sum(map(len, by_gold.values()))
        size = max(1, min(MAX_JOB_ANSWERS, math.ceil(n_pending / (4 * self.n_workers))))
        jobs = deque(_Job(gold, items[i:i + size]) for gold, items in by_gold.items() for i in range(0, len(items), size))
        run = _Run(finish, jobs)

        while jobs or any(w.jobs for w in self._workers):
            for slot, worker in enumerate(self._workers):
                while worker.ready and len(worker.jobs) < PIPELINE_DEPTH and jobs:
                    job = jobs.popleft()
                    if job.gold in run.failed_golds:
                        for index, _ in job.items:
                            finish(index, False, run.failed_golds[job.gold])
                        continue
                    try:
                        worker.send(job)
                    except OSError:  # it died: treat it as a crash on its current job, retry this one
                        jobs.appendleft(job)
                        if worker.jobs:
                            self._fail(worker, "error", run)
                        else:
                            self._replace(slot)
                        worker = self._workers[slot]
            waiting = [w for w in self._workers if w.jobs or not w.ready]
            timeout = max(0.0, min(w.deadline for w in waiting) - time.monotonic())
            ready = wait([w.conn for w in waiting], timeout=timeout)
            for worker in waiting:
                if worker.conn in ready:
                    self._receive(worker, run)
                elif time.monotonic() > worker.deadline and (not worker.ready or worker.out_of_time()):
                    self._fail(worker, "timeout", run)
        return grades  # type: ignore[return-value]  # every slot is filled by now

    def _replace(self, slot: int) -> _Worker:
        self.restarts += 1
        self._workers[slot].kill()
        self._workers[slot] = _Worker(self.timeout_s)
        return self._workers[slot]

    def _receive(self, worker: _Worker, run: _Run) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):  # the worker crashed (out of memory, a C-level fault)
            self._fail(worker, "error", run)
            return
        worker.heard(message[-1])
        if message[0] == "ready":
            worker.ready = True
            return
        job = worker.jobs[0]
        if message[0] == "gold":
            worker.gold_ready = True
            if not message[1]:  # math-verify finds nothing in the gold answer: no answer can match it
                for index, _ in job.items:
                    run.finish(index, False, "error")
                worker.next_job()
            return
        _, correct, status, _ = message
        run.finish(job.items[worker.done][0], bool(correct), status)
        worker.done += 1
        if worker.done == len(job.items):
            worker.next_job()

    def _fail(self, worker: _Worker, status: Status, run: _Run) -> None:
        """Kill and replace a worker; blame the answer (or gold) it was on; requeue the rest of its jobs."""
        if not worker.ready:
            worker.kill()
            raise RuntimeError(
                f"a grading worker did not start within {STARTUP_TIMEOUT_S:.0f} s "
                f"(exit code {worker.process.returncode}); try: {sys.executable} -c 'import math_verify'"
            )
        job, *queued = worker.jobs
        self._replace(self._workers.index(worker))
        run.jobs.extendleft(reversed(queued))  # sent but not started: retried by the others
        if not worker.gold_ready:
            run.failed_golds[job.gold] = status
            for index, _ in job.items:
                run.finish(index, False, status)
            return
        run.finish(job.items[worker.done][0], False, status)
        rest = job.items[worker.done + 1:]
        if rest:
            run.jobs.appendleft(_Job(job.gold, rest))


@dataclass
class _Run:
    """The state of one grade() call that failures touch."""

    finish: Callable[[int, bool, Status], None]
    jobs: deque
    failed_golds: dict[str, Status] = field(default_factory=dict)  # golds whose parse hung or crashed a worker


_shared: Grader | None = None
_shared_pid = 0
_shared_lock = threading.Lock()


def grade_one(response: str, gold: str, timeout_s: float = 5.0) -> Grade:
    """Grade one response with a process-wide grader, created on first use (verl's reward function)."""
    global _shared, _shared_pid
    with _shared_lock:
        if _shared is None or _shared_pid != os.getpid() or _shared.timeout_s != timeout_s:
            if _shared is not None and _shared_pid == os.getpid():
                _shared.close()
            _shared, _shared_pid = Grader(workers=1, timeout_s=timeout_s), os.getpid()
            atexit.register(_shared.close)
        return _shared.grade([(response, gold)])[0]
