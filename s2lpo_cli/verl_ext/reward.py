"""verl's reward function: the project's grader, the same code as `s2lpo eval` and the embedded trainer.

verl loads it from `reward.custom_reward_function.path=pkg://s2lpo_cli.verl_ext.reward` (name
`compute_score`) and calls it once per response with keyword arguments (data_source, solution_str,
ground_truth, extra_info, ...) plus `reward.custom_reward_function.reward_kwargs`. The dict it
returns becomes verl's `reward_extra_info`.

It is a coroutine, so verl's reward manager awaits it instead of running it in a thread: every
response in flight in one reward worker joins one batch for a pool of grading processes sized to
the node (its CPUs shared among the reward workers placed on it). Step 1 of 4b_8b grades 16,384
explorer responses at once; one grading process per reward worker, one answer at a time, was the
bottleneck (`bench/bench_reward.py` measures both).
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import Future
from typing import Any

from s2lpo_cli.grading.grader import Grade, Grader, default_workers

GRADE_TIMEOUT_S = 5.0


def pool_size(reward_workers_per_node: int, cpus: int | None = None) -> int:
    """Grading processes for one reward worker: the node's CPUs shared among the reward workers on it."""
    return max(1, (cpus or default_workers()) // max(1, reward_workers_per_node))


class BatchGrader:
    """A Grader pool fed from any thread or event loop: calls arriving while a batch is graded form the next one."""

    def __init__(self, workers: int, timeout_s: float = GRADE_TIMEOUT_S) -> None:
        self.grader = Grader(workers=workers, timeout_s=timeout_s)
        self._pending: list[tuple[str, str, Future]] = []
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name="s2lpo-grading", daemon=True)
        self._thread.start()

    def submit(self, response: str, gold: str) -> Future:
        future: Future = Future()
        with self._wake:
            self._pending.append((response, gold, future))
            self._wake.notify()
        return future

    def _serve(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batch, self._pending = self._pending, []
            try:
                grades = self.grader.grade([(response, gold) for response, gold, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - every waiting call must learn of it
                for _, _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, _, future), grade in zip(batch, grades, strict=True):
                future.set_result(grade)


_pool: BatchGrader | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def shared_pool(workers: int) -> BatchGrader:
    """This process's pool, started on first use (again in a forked child)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool, _pool_pid = BatchGrader(workers, GRADE_TIMEOUT_S), os.getpid()
        return _pool


def _score(grade: Grade) -> dict[str, float]:
    score = 1.0 if grade.correct else 0.0
    return {"score": score, "acc": score, "no_answer": 1.0 if grade.status == "no_answer" else 0.0,
            "timeout": 1.0 if grade.status == "timeout" else 0.0}


async def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None,
    reward_workers_per_node: int = 1, **_: Any,
) -> dict[str, float]:
    """1.0 when the boxed answer matches the gold answer, else 0.0 (no answer and timeouts are wrong).

    `no_answer` and `timeout` (grading took longer than GRADE_TIMEOUT_S) flag why a 0.0 is not a verdict.
    """
    pool = shared_pool(pool_size(reward_workers_per_node))
    return _score(await asyncio.wrap_future(pool.submit(solution_str, str(ground_truth))))
