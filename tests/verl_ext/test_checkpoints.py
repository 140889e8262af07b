"""verl's metrics and checkpoints mapped into the run layout `s2lpo eval` / `s2lpo report` read."""

from __future__ import annotations

import json

import pytest

from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.verl_ext.checkpoints import convert_metrics, link_checkpoints, map_metrics
from s2lpo_cli.verl_ext.command import VerlPaths

pytestmark = pytest.mark.verl

KEYS = {"step", "phase", "alpha", "g_w", "g_s", "reward_mean", "reward_explorer", "reward_target", "accuracy",
        "adv_mean", "adv_std", "zero_var_frac", "clip_frac", "kl", "entropy", "iw_mean", "iw_max", "response_len",
        "target_tokens", "tokens_per_s", "step_time_s", "loss", "grad_norm", "lr"}


def _verl_line(step: int) -> dict:
    return {"step": step, "data": {"critic/score/mean": 0.25 * step, "actor/pg_clipfrac": 0.01, "actor/kl_loss": 0.002,
                                   "actor/entropy": 1.5, "response_length/mean": 300.0, "timing_s/step": 12.0,
                                   "actor/pg_loss": -0.1, "actor/grad_norm": 0.7, "actor/lr": 1e-6,
                                   "critic/advantages/mean": 0.0, "perf/throughput": 900.0}}


def test_split_mode_global_steps_map_to_logical_steps_and_phases():
    recipe = load_recipe("4b_8b", ["schedule.mode=split"])
    first, second, third = (map_metrics(_verl_line(g), recipe) for g in (1, 2, 3))
    assert (first["step"], first["phase"], first["g_w"], first["g_s"]) == (1, "explorer", 16, 0)
    assert (second["step"], second["phase"], second["g_w"]) == (2, "explorer", 14)
    assert (third["step"], third["phase"], third["g_s"]) == (2, "target", 3)
    assert KEYS <= set(first)
    assert first["reward_mean"] == 0.25 and first["loss"] == -0.1 and first["reward_explorer"] is None


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
