"""The training benchmark's s2lpo side runs against the current trainer API (the benchmark is not part of
the test suite's timing; this only keeps it runnable)."""

from pathlib import Path

import pytest

from bench import bench_training


@pytest.mark.slow
def test_s2lpo_side_reports_timed_steps_phases_and_memory(tmp_path: Path):
    data = bench_training.build_model(tmp_path)
    result = bench_training.run_ours(tmp_path, data, memory_steps=bench_training.WARMUP + bench_training.TIMED)
    assert len(result["steps"]) == bench_training.TIMED
    for step in result["steps"]:
        assert step["wall"] > 0 and step["cpu"] > 0 and 1 <= step["response_len"] <= bench_training.MAX_TOKENS
        assert all(step[phase] >= 0 for phase in bench_training.PHASES)
    total = bench_training.WARMUP + bench_training.TIMED
    assert result["rss_timed"] > 0
    assert set(result["rss_after"]) == {n for n in bench_training.MEMORY_STEPS if n < total} | {total}


def test_turns_alternate_the_two_sides_and_finish_releases_the_other(tmp_path: Path):
    import os
    import threading

    for pipe in (*bench_training.SIDES, "ready"):
        os.mkfifo(tmp_path / pipe)
    ours, theirs = (bench_training.Turns(tmp_path, name) for name in bench_training.SIDES)
    order: list[str] = []

    def side(turns, name, steps):
        for _ in range(steps):
            turns.wait()
            order.append(name)
            turns.give()
        turns.finish()

    threads = [threading.Thread(target=side, args=(ours, "s2lpo", 3)),
               threading.Thread(target=side, args=(theirs, "trl", 5))]
    for t in threads:
        t.start()
    first = os.open(tmp_path / "s2lpo", os.O_RDWR)
    os.write(first, b"t")
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert order == ["s2lpo", "trl", "s2lpo", "trl", "s2lpo", "trl", "trl", "trl"]
