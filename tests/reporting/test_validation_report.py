"""`s2lpo report` on runs with val.jsonl: validation curves per arm (seed mean and sd), on the step and the
target-token axes, and each arm's first step reaching an accuracy."""

from __future__ import annotations

import json

import pytest
from reporting_fixtures import write_training_run
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.errors import UserError
from s2lpo_cli.reporting.validation import load_validation

CURVES = {  # run -> Pass@1 at steps 0, 2, 4, 6
    "mix_seed0": [0.10, 0.30, 0.50, 0.60],
    "mix_seed1": [0.10, 0.20, 0.40, 0.60],
    "grpo_seed0": [0.10, 0.15, 0.30, 0.40],
    "grpo_seed1": [0.10, 0.25, 0.30, 0.50],
}


def _runs(tmp_path):
    folders = []
    for name, values in CURVES.items():
        folder = write_training_run(tmp_path / name, total_steps=6, anneal_steps=3 if "mix" in name else 0)
        rows = [{"step": 2 * i, "benchmark": "heldout", "pass@1": v, "k": 4} for i, v in enumerate(values)]
        (folder / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 8, "bench')
        folders.append(folder)
    return folders


def _tokens_through(folder, step: int) -> int:
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return sum(m["target_tokens"] for m in lines if m["step"] <= step)


def test_report_draws_validation_curves_and_the_first_step_each_arm_reaches(tmp_path):
    folders = _runs(tmp_path)
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", *map(str, folders), "--baseline", "grpo_seed0", "--out", str(out)],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    curves = data["validation"]["curves"]["heldout"]
    mix, grpo = curves["mix_seed*"], curves["grpo_seed*"]
    assert [p["step"] for p in mix] == [0, 2, 4, 6]
    assert [p["mean"] for p in mix] == pytest.approx([0.10, 0.25, 0.45, 0.60])
    assert mix[1]["sd"] == pytest.approx(0.0707107, abs=1e-6)  # stdev(0.3, 0.2)
    assert [p["mean"] for p in grpo] == pytest.approx([0.10, 0.20, 0.30, 0.45])
    assert mix[2]["target_tokens"] == _tokens_through(folders[0], 4) and mix[0]["target_tokens"] == 0
    assert grpo[3]["target_tokens"] == 6 * 8 * 10  # GRPO: G_s = 8 every step, 10 tokens each (the fixture)

    # default: how soon each arm gets where the baseline's arm ended (0.45)
    reach = data["validation"]["reach"]["heldout"]
    assert reach["accuracy"] == pytest.approx(0.45) and reach["source"] == "final Pass@1 of grpo_seed*"
    assert reach["arms"]["mix_seed*"]["step"] == 4 and reach["arms"]["grpo_seed*"]["step"] == 6
    assert (out / "validation.png").is_file() and "![validation](validation.png)" in (out / "report.md").read_text()
    assert "first reached" in result.output
    assert ("heldout Pass@1 (last validation): mix_seed* 60.0% (mean of 2), grpo_seed* 45.0% (mean of 2); mix_seed* "
            "is higher than grpo_seed* by 15.0 pt.") in data["verdict"]

    again = CliRunner().invoke(app, ["report", *map(str, folders), "--reach", "0.55", "--out", str(tmp_path / "r2")])
    assert again.exit_code == 0, again.output
    reach = json.loads((tmp_path / "r2" / "report.json").read_text())["validation"]["reach"]["heldout"]
    assert reach["source"] == "--reach"
    assert reach["arms"]["mix_seed*"]["step"] == 6 and reach["arms"]["grpo_seed*"] is None
    assert "not reached" in (tmp_path / "r2" / "report.md").read_text()


def test_a_bad_val_row_names_file_and_line(tmp_path):
    folder = write_training_run(tmp_path / "run")
    (folder / "val.jsonl").write_text('{"step": 0, "benchmark": "h", "pass@1": 0.1}\n{"step": "two", "benchmark": "h"}\n')
    with pytest.raises(UserError, match=r"val.jsonl:2: a val.jsonl row needs an integer step"):
        load_validation(folder)
