"""`s2lpo train` end to end on the tiny models: run folder, metrics, refusal, kill -9 and resume, baseline."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s2lpo_cli.errors import UserError
from s2lpo_cli.recipe import load_recipe, to_yaml
from s2lpo_cli.training.metrics import METRIC_KEYS, TIMING_KEYS

from .tb_events import accumulated, event_scalars

REPO = Path(__file__).resolve().parents[2]


def _recipe(tiny_models: Path, store: Path, run_dir: Path, *sets: str):
    return load_recipe("tiny", [
        f"models.explorer={tiny_models / 'explorer'}", f"models.target={tiny_models / 'target'}",
        f"models.explorer_rollouts={store}", f"output.run_dir={run_dir}", "data.limit=8",
        "optim.prompts_per_step=4", "optim.mini_batch=4", "optim.micro_batch=8", "rollout.group_size=4",
        "rollout.max_response_tokens=16", "schedule.anneal_steps=3", "schedule.total_steps=3",
        "output.save_every=1", "engine.device=cpu", "validation.every=0", *sets,
    ])


@pytest.fixture(scope="module")
def store(tiny_models, tmp_path_factory) -> Path:
    """An explorer rollout store for the first 8 synthetic prompts, 4 responses each (s2lpo sample's code)."""
    from s2lpo_cli.sampling.job import build_job
    from s2lpo_cli.sampling.runner import run_sampling

    path = tmp_path_factory.mktemp("store") / "rollouts"
    recipe = _recipe(tiny_models, path, path.parent / "unused")
    run_sampling(build_job(str(tiny_models / "explorer"), recipe, n=4, limit=8, engine="embedded"))
    return path


def _write(recipe, folder: Path) -> Path:
    path = folder / "recipe.yaml"
    path.write_text(to_yaml(recipe))
    return path


def _train(recipe_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "s2lpo_cli.cli.app", "train", str(recipe_path), *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def _assert_board_matches_metrics(run_dir: Path) -> None:
    """TensorBoard shows each physical step once, with metrics.jsonl's values (float32), under its names."""
    rows = _metrics(run_dir)
    written = [(tag, step) for tag, step, _, _ in event_scalars(run_dir / "tensorboard")]
    assert len(written) == len(set(written))
    shown = accumulated(run_dir / "tensorboard")
    for key in METRIC_KEYS:
        expected = [(i + 1, r[key]) for i, r in enumerate(rows) if isinstance(r[key], (int, float))]
        assert shown.get(key, []) == [(s, pytest.approx(v, rel=1e-6, abs=1e-6)) for s, v in expected], key
    assert shown["critic/score/mean"] == shown["reward_mean"] and shown["actor/pg_clipfrac"] == shown["clip_frac"]


def test_mismatched_tokenizer_is_refused_and_nothing_written(tiny_models, store, tmp_path):
    from s2lpo_cli.training.run import run_training

    other = tmp_path / "other_store"
    shutil.copytree(store, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["tokenizer_hash"] = "0123456789abcdef"
    (other / "manifest.json").write_text(json.dumps(manifest))
    run_dir = tmp_path / "run"
    with pytest.raises(UserError, match="another tokenizer") as info:
        run_training(_recipe(tiny_models, other, run_dir))
    assert "0123456789abcdef" in str(info.value)
    assert not run_dir.exists()


@pytest.mark.parametrize(("stored", "regrade"), [(None, False), (3, True), ("unrecorded", True)])
def test_a_store_graded_under_other_rules_is_graded_again_by_the_run(tiny_models, store, tmp_path, stored, regrade):
    from s2lpo_cli.grading.version import RULES_VERSION
    from s2lpo_cli.training.run import preflight

    other = tmp_path / "store"
    shutil.copytree(store, other)
    manifest = json.loads((other / "manifest.json").read_text())
    assert manifest["grading_rules_version"] == RULES_VERSION  # as `s2lpo sample` writes it
    if stored == "unrecorded":  # a store written before versions were recorded
        del manifest["grading_rules_version"]
    elif stored is not None:
        manifest["grading_rules_version"] = stored
    (other / "manifest.json").write_text(json.dumps(manifest))
    pre = preflight(_recipe(tiny_models, other, tmp_path / "run"))
    assert pre.explorer_rules == manifest.get("grading_rules_version")
    assert pre.regrade_explorer is regrade


def test_a_run_replaying_a_store_of_other_rules_takes_the_graders_rewards(tiny_models, store, tmp_path, capfd):
    """Every stored reward flipped and the manifest saying rules v3: the run's explorer rewards are still the
    grader's, those of the same run on the untouched store, and stderr says why."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from s2lpo_cli.training.run import run_training

    stale = tmp_path / "stale"
    shutil.copytree(store, stale)
    for shard in (stale / "shards").glob("*.parquet"):
        table = pq.read_table(shard)
        flipped = pc.subtract(1.0, table.column("reward")).cast(table.schema.field("reward").type)
        pq.write_table(table.set_column(table.schema.get_field_index("reward"), "reward", flipped), shard)
    manifest = json.loads((stale / "manifest.json").read_text())
    (stale / "manifest.json").write_text(json.dumps({**manifest, "grading_rules_version": 3}))
    sets = ("schedule.anneal_steps=1", "schedule.total_steps=1", "output.save_every=0")
    run_training(_recipe(tiny_models, store, tmp_path / "fresh", *sets))
    capfd.readouterr()
    run_training(_recipe(tiny_models, stale, tmp_path / "stale_run", *sets))
    said = "".join(capfd.readouterr().err.split())  # without the console's line wrapping
    assert "".join(f"{stale}: its rewards were graded under rules v3, this grader's are v".split()) in said
    fresh, replayed = _metrics(tmp_path / "fresh"), _metrics(tmp_path / "stale_run")
    assert [r["reward_explorer"] for r in replayed] == [r["reward_explorer"] for r in fresh]
    assert 0.0 < fresh[0]["reward_explorer"] < 1.0  # flipping changed the stored mean: the test can tell


def test_uncovered_prompts_are_refused_and_nothing_written(tiny_models, store, tmp_path):
    from s2lpo_cli.training.run import run_training

    run_dir = tmp_path / "run"
    recipe = _recipe(tiny_models, store, run_dir, "rollout.group_size=8", "optim.micro_batch=16")
    with pytest.raises(UserError, match=r"\d+ prompt\(s\) have fewer explorer responses") as info:
        run_training(recipe)
    assert "e.g. prompt" in str(info.value) and "has 4, needs 8" in str(info.value)
    assert not run_dir.exists()
    with pytest.raises(UserError, match=r"8 training prompt\(s\) that get explorer responses are not in"):
        run_training(_recipe(tiny_models, store, run_dir, "data.limit=16", "optim.prompts_per_step=16",
                             "optim.mini_batch=16"))
    assert not run_dir.exists()


def test_tensorboard_shows_what_metrics_jsonl_holds(tiny_models, store, tmp_path):
    from s2lpo_cli.training.run import run_training

    run_dir = tmp_path / "run"
    run_training(_recipe(tiny_models, store, run_dir, "output.logger=[jsonl, tensorboard]"))
    assert len(_metrics(run_dir)) == 3
    _assert_board_matches_metrics(run_dir)


def test_a_logger_without_its_package_is_refused_naming_the_extra(tiny_models, store, tmp_path, monkeypatch):
    from s2lpo_cli.training.run import run_training

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    run_dir = tmp_path / "run"
    with pytest.raises(UserError, match=r"output.logger: tensorboard needs .* pip install 's2lpo\[tensorboard\]'"):
        run_training(_recipe(tiny_models, store, run_dir, "output.logger=[jsonl, tensorboard]"))
    assert not run_dir.exists()


@pytest.mark.slow
def test_killed_run_resumes_with_identical_metrics(tiny_models, store, tmp_path):
    full_dir, cut_dir = tmp_path / "full", tmp_path / "cut"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    board = "output.logger=[console, jsonl, tensorboard]"
    full = _train(_write(_recipe(tiny_models, store, full_dir, board), tmp_path / "a"))
    cut_recipe = _write(_recipe(tiny_models, store, cut_dir, board), tmp_path / "b")
    killed = _train(cut_recipe)
    deadline = time.monotonic() + 300
    while not (cut_dir / "checkpoints" / "step_0001" / "trainer_state.json").is_file():
        assert killed.poll() is None, killed.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)  # during step 2
    killed.wait()
    _, err = full.communicate(timeout=300)
    assert full.returncode == 0, err

    resumed = _train(cut_recipe)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "resuming" in err

    reference = _metrics(full_dir)
    assert len(reference) == 3 and all(list(r) == list(METRIC_KEYS) for r in reference)
    assert [(r["step"], r["g_w"], r["g_s"]) for r in reference] == [(1, 4, 0), (2, 2, 2), (3, 0, 4)]
    assert reference[0]["reward_target"] is None and reference[2]["reward_explorer"] is None
    assert reference[0]["target_tokens"] == 0 and reference[2]["target_tokens"] > 0
    assert _without_timing(_metrics(cut_dir)) == _without_timing(reference)
    for folder in (full_dir, cut_dir):
        _assert_board_matches_metrics(folder)  # the resumed run's board holds each step once

    for folder in (full_dir, cut_dir):
        assert {p.name for p in folder.iterdir()} >= {"recipe.yaml", "command.txt", "env.json", "metrics.jsonl",
                                                      "checkpoints", "final"}
        assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["step_0001", "step_0002", "step_0003"]
    env = json.loads((full_dir / "env.json").read_text())
    assert "torch" in env["packages"] and "git" in env
    assert "train" in (full_dir / "command.txt").read_text()

    import torch
    from safetensors.torch import load_file

    a = load_file(str(full_dir / "final" / "model.safetensors"))
    b = load_file(str(cut_dir / "final" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_baseline_is_plain_grpo_in_its_own_folder(tiny_models, store, tmp_path):
    run_dir = tmp_path / "run"
    recipe = _write(_recipe(tiny_models, store, run_dir, "schedule.total_steps=2", "schedule.anneal_steps=2"),
                    tmp_path)
    proc = _train(recipe, "--baseline")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    rows = _metrics(tmp_path / "run_grpo")
    assert [(r["g_w"], r["g_s"], r["reward_explorer"]) for r in rows] == [(0, 4, None), (0, 4, None)]
    assert not run_dir.exists()
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(tmp_path / "run_grpo" / "final")
