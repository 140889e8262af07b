import json

import pytest
from reporting_fixtures import bench_entry, write_eval

from s2lpo_cli.errors import UserError
from s2lpo_cli.reporting.eval_results import load_eval_results


def test_summary_is_read(tmp_path):
    write_eval(tmp_path, "target", {"math500": bench_entry(20, 0.25), "heldout": bench_entry(10, 0.5)})
    res = load_eval_results(tmp_path)
    assert set(res.benchmarks) == {"math500", "heldout"}
    m = res.benchmarks["math500"]
    assert (m.pass1, m.n_questions, m.max_k) == (0.25, 20, 4)
    assert m.pass_k == pytest.approx(0.5)
    assert res.in_progress == [] and res.notes == []


def test_eval_still_going_has_bench_files_and_raw_outputs(tmp_path):
    write_eval(tmp_path, "target", {"aime24": bench_entry(30, 0.1)}, summary=False, started=("aime25",),
               requested=("math500",))
    res = load_eval_results(tmp_path)
    assert list(res.benchmarks) == ["aime24"]
    assert res.benchmarks["aime24"].pass1 == 0.1
    assert res.in_progress == ["aime25", "math500"]
    assert "aime25: no result yet (generation started)" in res.notes
    assert "math500: no result yet (not started)" in res.notes


def test_an_eval_that_just_started_is_a_run(tmp_path):
    write_eval(tmp_path, "target", {}, summary=False, requested=("heldout",))
    assert load_eval_results(tmp_path / "output").in_progress == ["heldout"]


def test_newest_result_per_benchmark_wins(tmp_path):
    import os

    write_eval(tmp_path, "m", {"heldout": bench_entry(10, 0.2)}, stamp="20261128_100000")
    write_eval(tmp_path, "m", {"heldout": bench_entry(10, 0.6)}, stamp="20261128_110000")
    old = tmp_path / "result" / "m_20261128_100000"
    for f in old.iterdir():
        os.utime(f, (1_000_000, 1_000_000))
    assert load_eval_results(tmp_path).benchmarks["heldout"].pass1 == 0.6


def test_nothing_found_is_none(tmp_path):
    (tmp_path / "result").mkdir()
    assert load_eval_results(tmp_path) is None


def test_malformed_summary_names_the_field(tmp_path):
    write_eval(tmp_path, "m", {"heldout": bench_entry(10, 0.2)})
    summary = next(tmp_path.glob("result/*/summary.json"))
    doc = json.loads(summary.read_text())
    doc["benchmarks"]["heldout"]["pass@1"] = "high"
    summary.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"summary\.json: benchmarks\.heldout\.pass@1 must be a number"):
        load_eval_results(tmp_path)
