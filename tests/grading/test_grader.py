import os
import signal
import threading
import time

import pytest

from s2lpo_cli.grading import grader as grader_module
from s2lpo_cli.grading.grader import Grade, Grader, cpu_seconds, grade_one

HANGS = "9^{9^{9^{9}}}"  # math-verify's comparison tries to evaluate this tower and never returns
PARSE_HANGS = "\\binom{10^{10}}{5000000000}"  # math-verify's parse evaluates this binomial


@pytest.fixture(scope="module")
def grader():
    with Grader(workers=2, timeout_s=2.0) as g:
        yield g


def test_grades_and_records_what_was_extracted(grader):
    pairs = [
        ("so \\boxed{\\frac12}", "\\frac{1}{2}"),
        ("<think>\\boxed{3}</think>the answer is 4.", "4"),
        ("\\boxed{0.5}", "\\frac{1}{2}"),
        ("\\boxed{5}", "\\frac{1}{2}"),
        ("I give up", "7"),
        ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("\\boxed{\\frac{1}{2^{98}}}", "\\frac{1}{2^{99}}"),
    ]
    assert grader.grade(pairs) == [
        Grade(True, "\\frac12", "ok"),
        Grade(True, "4", "ok"),
        Grade(True, "0.5", "ok"),
        Grade(False, "5", "ok"),
        Grade(False, None, "no_answer"),
        Grade(True, "\\left( 3, \\frac{\\pi}{2} \\right)", "ok"),
        Grade(False, "\\frac{1}{2^{98}}", "ok"),
    ]


def test_a_hanging_answer_is_killed_and_recorded_and_the_run_goes_on(grader):
    pairs = [("\\boxed{1}", "1"), (f"\\boxed{{{HANGS}}}", "1"), ("\\boxed{2}", "1"), ("\\boxed{1}", "1")]
    restarts = grader.restarts
    grades = grader.grade(pairs)
    assert [g.status for g in grades] == ["ok", "timeout", "ok", "ok"]
    assert [g.correct for g in grades] == [True, False, False, True]
    assert grader.restarts == restarts + 1
    # the pool was repaired: still two live workers, and they still grade
    assert grader.grade([("\\boxed{3}", "3")]) == [Grade(True, "3", "ok")]


def test_a_gold_whose_parse_hangs_fails_its_answers_once_not_per_answer(grader):
    pairs = [(f"\\boxed{{{i}}}", PARSE_HANGS) for i in range(6)] + [("\\boxed{2}", "2")]
    restarts = grader.restarts
    grades = grader.grade(pairs)
    assert [g.status for g in grades] == ["timeout"] * 6 + ["ok"]
    assert grades[-1].correct
    # at most one kill per worker that had started on that gold, not one per answer
    assert grader.restarts - restarts <= grader.n_workers


def test_progress_counts_every_pair(grader):
    seen = []
    grader.grade([("\\boxed{1}", "1"), ("none", "1"), ("\\boxed{2}", "2")], progress=seen.append)
    assert sum(seen) == 3


def test_grade_one_uses_a_shared_grader():
    assert grade_one("The answer is $\\frac{3}{4}$.", "0.75") == Grade(True, "\\frac{3}{4}", "ok")
    assert grade_one("\\boxed{4}", "3").correct is False


def test_a_worker_that_died_is_replaced(grader):
    victim = grader._workers[0].process
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    restarts = grader.restarts
    pairs = [(f"\\boxed{{\\frac{{{2 * i}}}{{2}}}}", str(i)) for i in range(6)]  # not plain integers: to workers
    assert [g.correct for g in grader.grade(pairs)] == [True] * 6
    assert grader.restarts == restarts + 1


def _paused(pid: int, seconds: float) -> threading.Timer:
    """Stop process `pid` now (a worker waiting for a core) and let it go on after `seconds`."""
    os.kill(pid, signal.SIGSTOP)
    timer = threading.Timer(seconds, os.kill, (pid, signal.SIGCONT))
    timer.start()
    return timer


def test_a_worker_waiting_for_a_core_is_not_timed_out():
    """The limit is CPU time: a worker kept off the CPU for three times the limit still gives its verdict."""
    with Grader(workers=1, timeout_s=0.5) as grader:
        assert grader.grade([("\\boxed{\\frac{2}{4}}", "\\frac12")]) == [Grade(True, "\\frac{2}{4}", "ok")]
        timer = _paused(grader._workers[0].process.pid, 1.5)
        started = time.monotonic()
        grades = grader.grade([("\\boxed{\\frac{3}{6}}", "\\frac12"), ("\\boxed{0.25}", "\\frac14")])
        timer.join()
        assert time.monotonic() - started >= 1.5
        assert grades == [Grade(True, "\\frac{3}{6}", "ok"), Grade(True, "0.25", "ok")]
        assert grader.restarts == 0


def test_a_worker_silent_for_the_wall_clock_limit_is_killed_whatever_its_cpu_time(monkeypatch):
    monkeypatch.setattr(grader_module, "WALL_LIMIT_FACTOR", 4)
    with Grader(workers=1, timeout_s=0.25) as grader:
        grader.grade([("\\boxed{\\frac{2}{4}}", "\\frac12")])
        timer = _paused(grader._workers[0].process.pid, 30.0)
        started = time.monotonic()
        grades = grader.grade([("\\boxed{\\frac{3}{6}}", "\\frac12")])
        timer.cancel()
        assert 1.0 <= time.monotonic() - started < 10.0
        assert grades == [Grade(False, "\\frac{3}{6}", "timeout")]
        assert grader.restarts == 1


def test_cpu_seconds_reads_a_process_cpu_time():
    spent = time.process_time()
    assert abs(cpu_seconds(os.getpid()) - spent) < 0.1
    assert cpu_seconds(2**22 + 12345) is None  # no such process


FAKE_WORKER = """from multiprocessing.connection import Connection


def main(argv):
    inbox, outbox = Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False)
    outbox.send(("ready", 0.0))
    while True:
        gold, answers = inbox.recv()
        outbox.send(("gold", True, 0.0))
        for _ in answers:
            outbox.send(("answer", True, "ok", 0.0))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
"""


def test_workers_run_this_process_code_not_a_checkout_in_the_working_folder(tmp_path, monkeypatch):
    """A folder holding another s2lpo_cli (one whose worker calls every answer right) does not grade."""
    package = tmp_path / "s2lpo_cli" / "grading"
    package.mkdir(parents=True)
    (tmp_path / "s2lpo_cli" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "worker.py").write_text(FAKE_WORKER)
    monkeypatch.chdir(tmp_path)
    with Grader(workers=1, timeout_s=5.0) as grader:
        assert grader.grade([("\\boxed{5}", "\\frac{1}{2}")]) == [Grade(False, "5", "ok")]
