import json

import pytest
from reporting_fixtures import write_training_run
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.errors import UserError
from s2lpo_cli.reporting.arms import group_runs, parse_groups
from s2lpo_cli.reporting.checkpoint_scores import load_checkpoint_scores

runner = CliRunner()


def _seed_run(folder, reward: float, heldout: dict[int, float], anneal_steps: int = 2):
    run = write_training_run(folder, total_steps=6, anneal_steps=anneal_steps, reward_at=lambda t: reward)
    doc = {str(step): {"sampled": {"all": acc}, "greedy": {"all": acc}} for step, acc in heldout.items()}
    (run / "heldout_scores.json").write_text(json.dumps(doc))
    return run


def test_runs_differing_only_in_digits_are_one_arm():
    names = ["seed0", "seed1", "seed0_grpo", "seed1_grpo", "base"]
    assert group_runs(names) == {"seed*": ["seed0", "seed1"], "seed*_grpo": ["seed0_grpo", "seed1_grpo"],
                                 "base": ["base"]}
    by_hand = parse_groups(["s2l=seed0,seed1_grpo"], names)
    assert group_runs(names, by_hand)["s2l"] == ["seed0", "seed1_grpo"]
    assert group_runs(names, by_hand)["seed1"] == ["seed1"]  # left alone: an arm of one
    with pytest.raises(UserError, match="no run named seed9; the runs are: seed0"):
        parse_groups(["s2l=seed0,seed9"], names)
    with pytest.raises(UserError, match="expected NAME=RUN,RUN"):
        parse_groups(["seed0"], names)


def test_malformed_checkpoint_scores_name_the_field(tmp_path):
    (tmp_path / "heldout_scores.json").write_text(json.dumps({"10": {"sampled": {"all": "high"}}}))
    with pytest.raises(UserError, match=r"heldout_scores\.json: 10\.sampled\.all must be a held-out accuracy"):
        load_checkpoint_scores(tmp_path)


def test_seeds_get_a_verdict_with_their_spread_and_a_banded_checkpoint_plot(tmp_path):
    # the fixture's target part is reward - 0.1: S2L-PO seeds 0.3 each, GRPO seeds 0.1 and 0.2
    s2l = [_seed_run(tmp_path / f"seed{i}", 0.4, {10: 0.50 + 0.01 * i, 20: 0.60 + 0.01 * i}) for i in range(3)]
    grpo = [_seed_run(tmp_path / f"seed{i}_grpo", r, {10: 0.40, 20: acc}, anneal_steps=0)
            for i, (r, acc) in enumerate([(0.2, 0.40), (0.3, 0.50)])]
    out = tmp_path / "rep"
    result = runner.invoke(app, ["report", *map(str, s2l + grpo), "--out", str(out)], terminal_width=250)
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    assert data["arms"] == {"seed*": ["seed0", "seed1", "seed2"], "seed*_grpo": ["seed0_grpo", "seed1_grpo"]}
    reward, heldout, seeds = data["verdict"]
    # target reward: 0.3 (S2L-PO, sd 0) against (0.1 + 0.2) / 2 = 0.15 (GRPO, sd 0.071): 0.15 exceeds it
    assert reward.endswith("seed* is higher than seed*_grpo by 0.150.") and "mean of the last 5-6 steps" in reward
    # held-out, last checkpoint: 61% (sd 1 pt) against 45% (sd 7.1 pt)
    assert heldout.startswith("Held-out accuracy (last checkpoint): seed* 61.0% (mean of 3), seed*_grpo 45.0%")
    assert heldout.endswith("by 16.0 pt.")
    assert "the reward difference (0.150) exceeds the seeds' spread (sd seed* 0.000, seed*_grpo 0.071)" in seeds
    assert "the held-out difference (16.0 pt) exceeds the seeds' spread (sd seed* 1.0 pt, seed*_grpo 7.1 pt)" in seeds
    md = (out / "report.md").read_text().splitlines()
    assert md[2:5] == [f"{line}  " for line in data["verdict"]]  # report.md opens with the verdict
    assert (out / "heldout_checkpoints.png").stat().st_size > 5000
    assert data["runs"][0]["heldout_by_checkpoint"] == {"10": 0.5, "20": 0.6}


def test_single_runs_say_there_is_no_spread(tmp_path):
    a = _seed_run(tmp_path / "s2l", 0.4, {10: 0.5})
    b = _seed_run(tmp_path / "grpo", 0.6, {10: 0.5}, anneal_steps=0)
    result = runner.invoke(app, ["report", str(a), str(b), "--out", str(tmp_path / "rep")], terminal_width=250)
    assert result.exit_code == 0, result.output
    reward, heldout, seeds = json.loads((tmp_path / "rep" / "report.json").read_text())["verdict"]
    assert reward.endswith("grpo is higher than s2l by 0.200.")
    assert heldout.endswith("grpo is higher than s2l by 0.0 pt.") or heldout.endswith("s2l is higher than grpo by 0.0 pt.")
    assert seeds.startswith("Seeds: fewer than two runs per arm")
