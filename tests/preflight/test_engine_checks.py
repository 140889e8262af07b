"""Each trainer's own checks on top of the shared ones: embedded (loggers, device, run folder) and verl."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import sys

import pytest

from s2lpo_cli.preflight import verl as verl_checks
from s2lpo_cli.preflight.embedded import check_device, check_loggers
from s2lpo_cli.recipe import load_recipe, to_yaml

from .conftest import recipe_for


def _codes(findings):
    return [f.code for f in findings]


def test_embedded_loggers_name_the_extra_they_miss(train_file, monkeypatch):
    every = recipe_for(train_file, None, "output.logger=[console, jsonl, tensorboard, wandb]")
    assert check_loggers(every) == []  # installed here
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # find_spec says: not installed
    monkeypatch.setitem(sys.modules, "wandb", None)
    assert check_loggers(recipe_for(train_file, None, "output.logger=[console, jsonl]")) == []
    tensorboard, wandb = check_loggers(every)
    assert (tensorboard.code, tensorboard.field) == ("logger.missing_extra", "output.logger")
    assert "pip install 's2lpo[tensorboard]'" in tensorboard.message
    assert wandb.message.startswith("wandb needs the 'wandb' package") and "pip install 's2lpo[wandb]'" in wandb.message


def test_embedded_cuda_without_a_gpu(train_file):
    import torch

    cuda = recipe_for(train_file, None, "engine.device=cuda")
    assert _codes(check_device(cuda)) == ([] if torch.cuda.is_available() else ["gpus.none_visible"])
    assert check_device(recipe_for(train_file, None, "engine.device=cpu")) == []


def test_embedded_run_folder(train_file, tmp_path):
    from s2lpo_cli.training.run import _check_run_dir

    run_dir = tmp_path / "run"
    recipe = recipe_for(train_file, None, f"output.run_dir={run_dir}")
    assert _check_run_dir(recipe) == (None, False, [])  # a new run
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("mine")
    assert _codes(_check_run_dir(recipe)[2]) == ["run_dir.not_a_run"]
    (run_dir / "notes.txt").unlink()
    (run_dir / "recipe.yaml").write_text(to_yaml(recipe_for(train_file, None, "optim.lr=0.5")))
    assert _codes(_check_run_dir(recipe)[2]) == ["run_dir.other_recipe"]
    (run_dir / "recipe.yaml").write_text(to_yaml(recipe))
    assert _check_run_dir(recipe) == (None, False, [])  # the same run: resumed


def test_verl_engine_options(tmp_path):
    ok = load_recipe("4b_8b", [f"output.run_dir={tmp_path}"])
    assert verl_checks.check_engine_options(ok) == []
    bad = load_recipe("4b_8b", [
        f"output.run_dir={tmp_path}", "off_policy.correction=luffy", "schedule.mode=split", "output.save_every=4",
        "engine.overrides={trainer.v1.trainer_mode: colocate_async}",
    ])
    findings = verl_checks.check_engine_options(bad)
    assert _codes(findings) == ["verl.refused_override", "verl.save_every", "verl.no_luffy"]
    assert [f.field for f in findings] == ["engine.overrides", "output.save_every", "off_policy.correction"]
    assert findings[0].message.startswith("trainer.v1.trainer_mode=colocate_async is refused: ")


@pytest.mark.parametrize("address, counted, expected", [
    ("http://head:8265", None, ["gpus.at_job_start"]),  # the job server counts them when the job starts
    ("head:6379", None, ["gpus.not_checked"]),  # unreachable cluster
    (None, 0, ["gpus.none_here"]),
    ("head:6379", 4, ["gpus.too_few"]),
    ("head:6379", 8, []),
    (None, 8, []),
])
def test_verl_gpus(monkeypatch, tmp_path, address, counted, expected):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(verl_checks, "cluster_gpus", lambda a: (counted, "here"))
    recipe = load_recipe("4b_8b", [f"output.run_dir={tmp_path}"])  # 8 GPUs
    findings = verl_checks.check_gpus(recipe, address)
    assert _codes(findings) == expected
    severities = {"gpus.too_few": "error"}
    assert all(f.severity == severities.get(f.code, "not_checked") for f in findings)


def test_verl_context(tmp_path, train_file):
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 90}))
    recipe = recipe_for(train_file, None)  # 64 + 32 tokens
    assert _codes(verl_checks.check_context(recipe, tmp_path)) == ["model.context"]
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 96}))
    assert verl_checks.check_context(recipe, tmp_path) == []


def test_verl_model_not_here_is_not_checked(tmp_path, train_file, monkeypatch):
    monkeypatch.setattr(verl_checks, "local_model_dir", lambda model, download: None)
    monkeypatch.setattr(verl_checks, "check_composes", lambda overrides: [])
    monkeypatch.setattr(verl_checks, "check_gpus", lambda recipe, address: [])
    monkeypatch.setattr(verl_checks, "check_modules", lambda: [])
    recipe = recipe_for(train_file, tmp_path / "absent", "engine.kind=verl", "engine.gpus_per_node=1",
                        "engine.tensor_parallel_size=1", "data.max_prompt_tokens=5")
    data, findings = verl_checks.check_verl(recipe, None, strict=False)
    assert [(f.code, f.severity) for f in findings] == [("model.not_local", "not_checked"),
                                                        ("store.unavailable", "not_checked")]
    assert data.prompt_ids is None  # lengths (5 tokens is too few) were not measured here


@pytest.mark.verl
def test_verl_modules(monkeypatch):
    if importlib.util.find_spec("verl") is None:
        pytest.skip("verl is not installed")
    assert verl_checks.check_modules() == []
    monkeypatch.setattr(verl_checks, "REWARD_MODULE", "pkg://s2lpo_cli.no_such_module")
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.8.0")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "transfer_queue" else find_spec(name))
    assert _codes(verl_checks.check_modules()) == ["verl.reward_module", "verl.version", "verl.transfer_queue"]


def test_verl_agent_loop_import(monkeypatch):
    def fail(name):
        raise ImportError(f"cannot import {name}")

    monkeypatch.setattr(importlib, "import_module", fail)
    [finding] = verl_checks.check_agent_loop_imports()
    assert finding.code == "verl.agent_loop" and "ImportError: cannot import s2lpo_cli.verl_ext.agent_loop" in (
        finding.message)


@pytest.mark.verl
def test_verl_config_composition(monkeypatch, tmp_path):
    pytest.importorskip("verl")
    from s2lpo_cli.verl_ext.command import VerlPaths, verl_overrides

    overrides = verl_overrides(load_recipe("4b_8b", [f"output.run_dir={tmp_path}"]), VerlPaths.for_run(tmp_path))
    assert verl_checks.check_composes(overrides) == []
    [finding] = verl_checks.check_composes([*overrides, "no_such_key=1"])
    assert finding.code == "verl.config" and finding.field == "engine.overrides"
    monkeypatch.setitem(sys.modules, "verl", None)  # as if not installed
    assert [(f.code, f.severity) for f in verl_checks.check_composes([])] == [("verl.not_installed", "not_checked")]


def test_verl_on_cpu_refuses_a_model_too_big_for_memory(tmp_path, train_file, monkeypatch):
    """The estimate, by hand: 1,000 float32 parameters x 6 copies x 1 worker = 24,000 bytes, plus 700 MiB for each
    of verl's 8 fixed processes and the worker (9 x 734,003,200 = 6,606,028,800 bytes)."""
    import torch
    from safetensors.torch import save_file

    from s2lpo_cli.verl_ext.cpu import memory

    model = tmp_path / "model"
    model.mkdir()
    save_file({"a": torch.zeros(10, 50), "b": torch.zeros(500)}, str(model / "model.safetensors"))
    assert memory.parameter_count(model) == 1000
    assert memory.estimate_bytes(model, workers=1) == 24_000 + 9 * 700 * 2**20
    recipe = recipe_for(train_file, None, "engine.kind=verl", "engine.device=cpu", "engine.gpus_per_node=1",
                        f"models.target={model}")
    monkeypatch.setattr(memory, "memory_available", lambda: 9 * 700 * 2**20 + 24_000)
    assert verl_checks.check_cpu_memory(recipe) == []
    monkeypatch.setattr(memory, "memory_available", lambda: 2**30)
    (finding,) = verl_checks.check_cpu_memory(recipe)
    assert (finding.code, finding.field, finding.severity) == ("cpu.memory", "models.target", "error")
    assert "needs about 6.2 GiB" in finding.message and "has 1.0 GiB available" in finding.message
