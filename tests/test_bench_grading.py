"""The grading benchmark times the pool's start-up apart: it waits for every worker, whatever the answers."""

from bench import bench_grading
from s2lpo_cli.grading.grader import Grader


def test_wait_until_up_leaves_every_worker_ready_and_the_pool_grading():
    with Grader(workers=2) as grader:
        bench_grading.wait_until_up(grader)
        assert all(w.ready for w in grader._workers)
        grades = grader.grade([("so \\boxed{\\frac12}", "\\frac{1}{2}"), ("\\boxed{0.4}", "\\frac{1}{2}")])
    assert [g.correct for g in grades] == [True, False]
