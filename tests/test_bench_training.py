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
    assert result["rss_timed"] > 0 and set(result["rss_after"]) == {bench_training.WARMUP + bench_training.TIMED}
