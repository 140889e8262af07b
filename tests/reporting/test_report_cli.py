import json
import subprocess
import sys

import pytest
from reporting_fixtures import bench_entry, write_eval, write_training_run
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.errors import UserError
from s2lpo_cli.reporting.runs import load_runs, pick_baseline

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def three_runs(tmp_path):
    """The demo's shape: the base target (eval only), S2L-PO and GRPO (training + eval under the run)."""
    base = write_eval(tmp_path / "base", "target", {"heldout": bench_entry(40, 0.20), "math500": bench_entry(5, 0.0)})
    s2l = write_training_run(tmp_path / "tiny", total_steps=6, anneal_steps=3)
    write_eval(s2l / "eval", "final", {"heldout": bench_entry(40, 0.35), "math500": bench_entry(5, 0.2)})
    grpo = write_training_run(tmp_path / "tiny_grpo", total_steps=6, anneal_steps=0, reward_at=lambda t: 0.05 * t)
    write_eval(grpo / "eval", "final", {"heldout": bench_entry(40, 0.25)}, started=("math500",))
    return base, s2l, grpo


def test_report_compares_runs_against_the_baseline(three_runs, tmp_path):
    base, s2l, grpo = three_runs
    out = tmp_path / "rep"
    result = runner.invoke(app, ["report", str(base), str(s2l), str(grpo), "--out", str(out)], terminal_width=250)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    assert data["baseline"] == "base" and data["benchmarks"] == ["heldout", "math500"]
    by_name = {r["name"]: r for r in data["runs"]}
    assert by_name["tiny"]["benchmarks"]["heldout"]["delta_pass@1"] == pytest.approx(0.15)
    assert by_name["tiny_grpo"]["benchmarks"]["heldout"]["delta_accuracy"] == pytest.approx(0.05)
    assert by_name["tiny_grpo"]["missing_benchmarks"] == ["math500"]
    assert any("math500" in n and "no result yet" in n for n in by_name["tiny_grpo"]["notes"])
    # target part = 0.1 * step - 0.1 on steps 2..6 (step 1: explorer only)
    assert by_name["tiny"]["training"]["final_target_reward"] == pytest.approx(0.3)
    assert "0.300 (last 5)" in result.output
    # terminal: Pass@1 with the difference to the baseline, the schedule per step
    assert "+15.0 pt" in result.output and "+5.0 pt" in result.output
    assert "tiny: schedule and reward per step" in result.output
    # every plot is a real PNG and report.md embeds each
    md = (out / "report.md").read_text()
    for name in ("reward", "schedule", "response_length", "kl_entropy", "target_tokens", "passk_heldout", "passk_math500"):
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5000, name
        assert f"]({name}.png)" in md
    assert "| tiny | 40 | 35.0% | +15.0 pt |" in md


def test_baseline_by_name_or_position(three_runs, tmp_path):
    base, s2l, grpo = three_runs
    runs = load_runs([base, s2l, grpo])
    assert pick_baseline(runs, "tiny_grpo") is pick_baseline(runs, "3") is runs[2]
    with pytest.raises(UserError, match="1: base, 2: tiny, 3: tiny_grpo"):
        pick_baseline(runs, "nope")
    result = runner.invoke(app, ["report", str(base), str(s2l), str(grpo), "--out", str(tmp_path / "rep"),
                                 "--baseline", "3"], terminal_width=250)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["baseline"] == "tiny_grpo"
    assert data["runs"][1]["benchmarks"]["heldout"]["delta_pass@1"] == pytest.approx(0.10)
    assert data["runs"][0]["benchmarks"]["math500"]["delta_pass@1"] is None  # the baseline has no math500 result


def test_partial_training_run_shows_pending_steps(tmp_path):
    run = write_training_run(tmp_path / "going", total_steps=8, anneal_steps=4, steps_done=3, final=False)
    result = runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "rep")], terminal_width=250)
    assert result.exit_code == 0, result.output
    assert result.output.count("pending") == 5
    assert "partial: 3/8 steps" in result.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "3 of 8 steps logged" in md and "no evaluation results" in md


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "s2lpo_cli.cli.app", *args], capture_output=True, text=True)


def test_a_folder_that_is_not_a_run_is_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    proc = _cli("report", str(tmp_path), "--out", str(tmp_path / "rep"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "not a run: no metrics.jsonl or recipe.yaml" in proc.stderr.replace("\n", " ")
    missing = _cli("report", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr


def test_results_graded_under_different_versions_are_flagged(tmp_path):
    """A result from before versions were recorded, or under other grading rules, is compared with a warning."""
    v2 = {**bench_entry(10, 0.5), "grading_rules_version": 2, "spec_version": 1}
    old = write_eval(tmp_path / "old", "m", {"math500": bench_entry(10, 0.4), "commonsenseqa": v2})
    new = write_eval(tmp_path / "new", "m", {"math500": v2, "commonsenseqa": v2})
    newer_spec = write_eval(tmp_path / "newer", "m", {"math500": v2, "commonsenseqa": {**v2, "spec_version": 2}})

    same = load_runs([new, write_eval(tmp_path / "again", "m", {"math500": v2})])
    from s2lpo_cli.reporting.summary import version_warnings

    assert version_warnings(same, ["math500", "commonsenseqa"]) == []

    result = runner.invoke(app, ["report", str(old), str(new), str(newer_spec), "--out", str(tmp_path / "rep")],
                           terminal_width=250)
    assert result.exit_code == 0, result.output
    warnings = json.loads((tmp_path / "rep" / "report.json").read_text())["warnings"]
    assert len(warnings) == 2
    assert warnings[0].startswith("math500: results graded under different versions (old: rules unrecorded, "
                                  "spec unrecorded, new: rules 2, spec 1, newer: rules 2, spec 1)")
    assert warnings[1].startswith("commonsenseqa: results graded under different versions (old: rules 2, spec 1, "
                                  "new: rules 2, spec 1, newer: rules 2, spec 2)")
    assert "warning: math500: results graded under different versions" in " ".join(result.output.split())
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "**Warning:** commonsenseqa" in md and "passk_commonsenseqa.png" in md  # shown like the others
