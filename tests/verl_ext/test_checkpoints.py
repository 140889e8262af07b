"""verl's metrics and checkpoints mapped into the run layout `s2lpo eval` / `s2lpo report` read."""

from __future__ import annotations

import json

import pytest

from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.training.metrics import METRIC_KEYS
from s2lpo_cli.verl_ext.checkpoints import convert_metrics, link_checkpoints, map_metrics
from s2lpo_cli.verl_ext.command import VerlPaths

pytestmark = pytest.mark.verl

KEYS = {"step", "phase", "alpha", "g_w", "g_s", "reward_mean", "reward_explorer", "reward_target", "accuracy",
        "adv_mean", "adv_std", "zero_var_frac", "nonzero_adv_frac_by_family", "clip_frac", "kl", "entropy", "iw_mean", "iw_max", "response_len",
        "target_tokens", "tokens_per_s", "step_time_s", "time_generation_s", "time_grading_s", "time_update_s",
        "time_validation_s", "loss", "grad_norm", "lr"}


def _verl_line(step: int) -> dict:
    return {"step": step, "data": {"critic/score/mean": 0.25 * step, "actor/pg_clipfrac": 0.01, "actor/kl_loss": 0.002,
                                   "actor/entropy": 1.5, "response_length/mean": 300.0, "timing_s/step": 12.0,
                                   "timing_s/gen": 7.0, "timing_s/reward": 1.5, "timing_s/old_log_prob": 0.5,
                                   "timing_s/update_actor": 2.5,
                                   "actor/pg_loss": -0.1, "actor/grad_norm": 0.7, "actor/lr": 1e-6,
                                   "critic/advantages/mean": 0.0, "perf/throughput": 900.0}}


def test_split_mode_global_steps_map_to_logical_steps_and_phases():
    recipe = load_recipe("4b_8b", ["schedule.mode=split"])
    first, second, third = (map_metrics(_verl_line(g), recipe) for g in (1, 2, 3))
    assert (first["step"], first["phase"], first["g_w"], first["g_s"]) == (1, "explorer", 16, 0)
    assert (second["step"], second["phase"], second["g_w"]) == (2, "explorer", 14)
    assert (third["step"], third["phase"], third["g_s"]) == (2, "target", 3)
    assert KEYS <= set(first)
    assert set(first) - {"verl_global_step"} == set(METRIC_KEYS)  # the embedded trainer's keys (tests/verl_cpu)
    assert first["nonzero_adv_frac_by_family"] is None  # verl logs no per-group statistic
    assert first["reward_mean"] == 0.25 and first["loss"] == -0.1
    # the per-phase split of the embedded trainer, from verl's timers (update = old log-probs + actor update)
    assert (first["time_generation_s"], first["time_grading_s"], first["time_update_s"]) == (7.0, 1.5, 3.0)
    # an explorer-only phase: all of verl's score is the explorer's, the target generated nothing
    assert (first["reward_explorer"], first["reward_target"], first["target_tokens"]) == (0.25, None, 0)
    assert (third["reward_target"], third["reward_explorer"]) == (0.75, None)


def test_convert_and_link_write_the_embedded_layout(tmp_path):
    recipe = load_recipe("4b_8b", [f"output.run_dir={tmp_path}"])
    paths = VerlPaths.for_run(tmp_path)
    paths.root.mkdir(parents=True)
    paths.metrics.write_text("".join(json.dumps(_verl_line(g)) + "\n" for g in range(1, 17)))
    assert convert_metrics(tmp_path, recipe) == 16
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["g_w"] for r in records[:9]] == [16, 14, 12, 10, 7, 5, 3, 0, 0]
    for step in (8, 16):
        hf = paths.checkpoints / f"global_step_{step}" / "actor" / "huggingface"
        hf.mkdir(parents=True)
        (hf / "config.json").write_text("{}")
        (hf / "model.safetensors").write_bytes(b"")
    exposed = link_checkpoints(tmp_path, recipe, merge=False)
    assert sorted(exposed) == ["final", "step_0008", "step_0016"]
    assert (tmp_path / "checkpoints" / "step_0008" / "config.json").is_file()
    assert (tmp_path / "final").resolve() == (paths.checkpoints / "global_step_16" / "actor" / "huggingface").resolve()


def test_explorer_and_target_shares_are_separated_from_verl_totals():
    recipe = load_recipe("4b_8b")  # step 2: G_w = 14, G_s = 2, 1024 prompts
    line = _verl_line(2)  # score mean 0.5, response length mean 300
    explorer = {"count": 1024 * 14, "tokens": 1024 * 14 * 250, "reward_sum": 0.55 * 1024 * 14}
    record = map_metrics(line, recipe, explorer)
    assert record["reward_explorer"] == pytest.approx(0.55)
    assert record["reward_target"] == pytest.approx((0.5 * 16 - 0.55 * 14) / 2)
    assert record["target_tokens"] == 1024 * 16 * 300 - 1024 * 14 * 250
    cut = map_metrics(line, recipe, {**explorer, "reward_sum": None})  # a cut response: its stored reward is stale
    assert cut["reward_explorer"] is None and cut["target_tokens"] == record["target_tokens"]
    only_target = map_metrics(_verl_line(9), recipe, None)
    assert only_target["reward_target"] == 0.25 * 9 and only_target["reward_explorer"] is None


def test_resumed_runs_keep_every_attempts_metrics(tmp_path):
    import subprocess

    from s2lpo_cli.verl_ext.command import shell_script

    recipe = load_recipe("4b_8b", [f"output.run_dir={tmp_path}"])
    paths = VerlPaths.for_run(tmp_path)
    paths.root.mkdir(parents=True)
    paths.metrics.write_text("".join(json.dumps(_verl_line(g)) + "\n" for g in (1, 2, 3)) + '{"step": 4, "da')
    script = tmp_path / "command.sh"
    script.write_text(shell_script(["python", "-m", "verl.trainer.main_ppo", "a=1"], paths.metrics))
    subprocess.run(["bash", str(script)], env={"PYTHON": "true", "PATH": "/usr/bin:/bin"}, check=True)
    assert not paths.metrics.exists() and len(list(paths.root.glob("metrics.*.jsonl"))) == 1  # moved aside
    second = [_verl_line(g) for g in (3, 4)]
    second[0]["data"]["critic/score/mean"] = 0.9
    paths.metrics.write_text("".join(json.dumps(x) + "\n" for x in second))
    assert convert_metrics(tmp_path, recipe) == 4
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4] and records[2]["reward_mean"] == 0.9


def test_throughput_and_target_tokens_count_target_rows_only():
    recipe = load_recipe("4b_8b")  # step 2: G_w = 14, G_s = 2
    line = _verl_line(2)
    line["data"].update({"s2lpo/target_response_tokens": 6000.0, "rollout_corr/rollout_is_mean": 1.3,
                         "rollout_corr/rollout_is_max": 4.0})
    record = map_metrics(line, recipe, None)
    assert record["target_tokens"] == 6000
    assert record["tokens_per_s"] == 6000 / 12.0  # not perf/throughput (900), which counts replayed rows
    assert record["iw_mean"] is None and record["iw_max"] is None  # verl's IS stats mix explorer and target rows
    assert map_metrics(_verl_line(9), recipe, None)["tokens_per_s"] == 1024 * 16 * 300 / 12.0  # on-policy fallback


def _saved_by_verl(run_dir, recipe) -> None:
    """The checkpoint folders verl writes under the composed command: global_step % save_freq == 0, and the last."""
    from s2lpo_cli.verl_ext.command import verl_overrides

    from .conftest import compose_verl

    cfg = compose_verl(verl_overrides(recipe, VerlPaths.for_run(run_dir)))
    last = cfg.trainer.total_training_steps
    for g in range(1, last + 1):
        if g % cfg.trainer.save_freq == 0 or g == last:
            hf = VerlPaths.for_run(run_dir).checkpoints / f"global_step_{g}" / "actor" / "huggingface"
            hf.mkdir(parents=True)
            (hf / "config.json").write_text("{}")
            (hf / "model.safetensors").write_bytes(b"")


@pytest.mark.parametrize(("mode", "save_every", "logical"), [
    ("mixed", 4, [4, 8, 12, 16]),
    ("split", 8, [8, 16]),   # logical 8 ends at global step 14, 16 at 22
    ("split", 0, [16]),
])
def test_checkpoints_land_on_the_logical_steps_asked_for(tmp_path, mode, save_every, logical):
    recipe = load_recipe("4b_8b", [f"schedule.mode={mode}", f"output.save_every={save_every}",
                                   f"output.run_dir={tmp_path}"])
    _saved_by_verl(tmp_path, recipe)
    exposed = link_checkpoints(tmp_path, recipe, merge=False)
    assert sorted(exposed) == ["final"] + [f"step_{t:04d}" for t in logical]


def test_split_save_every_that_verl_cannot_hit_is_refused(tmp_path):
    from s2lpo_cli.errors import UserError
    from s2lpo_cli.verl_ext.launch import dry_run

    recipe = load_recipe("4b_8b", ["schedule.mode=split", "output.save_every=4", f"output.run_dir={tmp_path}"])
    with pytest.raises(UserError, match=r"logical steps 4, 8, 12, 16, which end at verl global steps 7, 14, 18, 22"):
        dry_run(recipe)
