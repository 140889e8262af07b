"""verl's metrics and checkpoints mapped into the run layout `s2lpo eval` / `s2lpo report` read."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.run_folder import RunFolder
from s2lpo_cli.training.metrics import METRIC_KEYS
from s2lpo_cli.verl_ext.checkpoints import (
    convert_metrics,
    has_hf_weights,
    link_checkpoints,
    main,
    map_metrics,
    verl_checkpoints,
)
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


def _hf_weights(folder) -> None:
    """A Hugging Face model folder as verl writes it with hf_model in save_contents (empty files)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")


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
        _hf_weights(paths.checkpoints / f"global_step_{step}" / "actor" / "huggingface")
    exposed = link_checkpoints(tmp_path, recipe, merge=False)
    assert sorted(exposed) == ["final", "step_0008", "step_0016"]
    assert (tmp_path / "checkpoints" / "step_0008" / "config.json").is_file()
    assert (tmp_path / "final").resolve() == (paths.checkpoints / "global_step_16" / "actor" / "huggingface").resolve()
    assert exposed["final"] == exposed["step_0016"] == paths.checkpoints / "global_step_16" / "actor" / "huggingface"


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
            _hf_weights(VerlPaths.for_run(run_dir).checkpoints / f"global_step_{g}" / "actor" / "huggingface")


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


def test_a_step_without_update_timers_has_no_update_time():
    line = _verl_line(1)
    for name in ("timing_s/old_log_prob", "timing_s/update_actor"):
        del line["data"][name]
    assert map_metrics(line, load_recipe("4b_8b"))["time_update_s"] is None  # not 0 s


def test_convert_reads_the_explorer_record_of_each_step(tmp_path):
    """explorer_steps.json splits step 2's score (0.5 over G = 16) into the explorer's 0.55 and the target's 0.15."""
    recipe = load_recipe("4b_8b")  # step 2: G_w = 14, G_s = 2, 1024 prompts
    paths = VerlPaths.for_run(tmp_path)
    paths.root.mkdir(parents=True)
    paths.metrics.write_text("".join(json.dumps(_verl_line(g)) + "\n" for g in (1, 2)))
    paths.explorer_steps.write_text(json.dumps({"2": {"count": 1024 * 14, "tokens": 0, "reward_sum": 0.55 * 1024 * 14}}))
    assert convert_metrics(tmp_path, recipe) == 2
    second = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[1])
    assert second["reward_explorer"] == pytest.approx(0.55)
    assert second["reward_target"] == pytest.approx((0.5 * 16 - 0.55 * 14) / 2)


def test_convert_without_steps_writes_nothing(tmp_path):
    VerlPaths.for_run(tmp_path).root.mkdir(parents=True)
    assert convert_metrics(tmp_path, load_recipe("4b_8b")) == 0
    assert not (tmp_path / "metrics.jsonl").exists()


def test_only_complete_checkpoints_with_weights_count(tmp_path):
    """A global_step folder without its actor/ (verl still writing it) and other folders are not checkpoints;
    HF weights are a config.json and safetensors together."""
    paths = VerlPaths.for_run(tmp_path)
    for name in ("global_step_3/actor", "global_step_5", "latest/actor"):
        (paths.checkpoints / name).mkdir(parents=True)
    assert verl_checkpoints(paths) == {3: paths.checkpoints / "global_step_3" / "actor"}
    config_only, weights_only, both = tmp_path / "config_only", tmp_path / "weights_only", tmp_path / "both"
    config_only.mkdir()
    (config_only / "config.json").write_text("{}")
    weights_only.mkdir()
    (weights_only / "model.safetensors").write_bytes(b"")
    _hf_weights(both)
    assert [has_hf_weights(f) for f in (config_only, weights_only, both)] == [False, False, True]


def test_links_replace_old_links_and_keep_real_folders(tmp_path):
    """A second run of the conversion moves a link (even one whose target is gone) and keeps a merged folder."""
    recipe = load_recipe("4b_8b", [f"output.run_dir={tmp_path}"])
    paths = VerlPaths.for_run(tmp_path)
    _hf_weights(paths.checkpoints / "global_step_8" / "actor" / "huggingface")
    (tmp_path / "checkpoints").mkdir()
    os.symlink("gone", tmp_path / "final")  # dangling
    (tmp_path / "checkpoints" / "step_0008").mkdir()  # a real folder: kept
    (tmp_path / "checkpoints" / "step_0008" / "mine").write_text("")
    exposed = link_checkpoints(tmp_path, recipe, merge=False)
    assert sorted(exposed) == ["final", "step_0008"]
    assert os.readlink(tmp_path / "final") == os.path.join("verl", "checkpoints", "global_step_8", "actor", "huggingface")
    assert not (tmp_path / "checkpoints" / "step_0008").is_symlink()
    assert (tmp_path / "checkpoints" / "step_0008" / "mine").is_file()


def test_split_mode_skips_a_checkpoint_inside_a_logical_step(tmp_path):
    """Split mode: logical step 2 is global steps 2 (explorer) and 3 (target); only the second ends it."""
    recipe = load_recipe("4b_8b", ["schedule.mode=split", f"output.run_dir={tmp_path}"])
    paths = VerlPaths.for_run(tmp_path)
    for g in (2, 3):
        _hf_weights(paths.checkpoints / f"global_step_{g}" / "actor" / "huggingface")
    exposed = link_checkpoints(tmp_path, recipe, merge=False)
    assert exposed == {"step_0002": paths.checkpoints / "global_step_3" / "actor" / "huggingface",
                       "final": paths.checkpoints / "global_step_3" / "actor" / "huggingface"}


def test_main_converts_links_and_merges_a_checkpoint_without_hf_weights(tmp_path, monkeypatch, capsys):
    """`python -m s2lpo_cli.verl_ext.checkpoints RUN` after a Ray job: step 8 holds HF weights (linked), step 16
    only FSDP shards (merged by verl's model merger into checkpoints/step_0016, final's target)."""
    recipe = load_recipe("4b_8b", [f"output.run_dir={tmp_path}"])
    RunFolder(tmp_path).write_recipe(recipe)
    paths = VerlPaths.for_run(tmp_path)
    paths.root.mkdir(parents=True)
    paths.metrics.write_text("".join(json.dumps(_verl_line(g)) + "\n" for g in range(1, 17)))
    _hf_weights(paths.checkpoints / "global_step_8" / "actor" / "huggingface")
    actor = paths.checkpoints / "global_step_16" / "actor"
    actor.mkdir(parents=True)
    runs = []
    monkeypatch.setattr(subprocess, "run", lambda argv, **kwargs: runs.append((argv, kwargs)))
    monkeypatch.setattr(sys, "argv", ["checkpoints", str(tmp_path)])
    main()
    merged = tmp_path / "checkpoints" / "step_0016"
    assert runs == [([sys.executable, "-m", "verl.model_merger", "merge", "--backend", "fsdp",
                      "--local_dir", str(actor), "--target_dir", str(merged)], {"check": True})]
    assert os.readlink(tmp_path / "final") == os.path.join("checkpoints", "step_0016")
    assert capsys.readouterr().out == f"{tmp_path}: 16 steps in metrics.jsonl; checkpoints: final, step_0008, step_0016\n"
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 16


def test_main_of_a_run_that_logged_and_saved_nothing(tmp_path, monkeypatch, capsys):
    RunFolder(tmp_path).write_recipe(load_recipe("4b_8b", [f"output.run_dir={tmp_path}"]))
    monkeypatch.setattr(sys, "argv", ["checkpoints", str(tmp_path)])
    main()
    assert capsys.readouterr().out == f"{tmp_path}: 0 steps in metrics.jsonl; checkpoints: none\n"
