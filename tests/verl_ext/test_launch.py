"""`s2lpo train` on verl: dry runs print a command that composes and write nothing; checks stop bad launches."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.errors import UserError
from s2lpo_cli.verl_ext.launch import dry_run, launch

from .conftest import compose_verl, tiny_verl_recipe, train_rows, write_store

pytestmark = pytest.mark.verl


def test_cli_dry_run_of_1_7b_8b_prints_a_command_that_composes():
    run_dir = Path("runs/1.7b_8b")
    existed = run_dir.exists()
    result = CliRunner().invoke(app, ["train", "recipes/1.7b_8b.yaml", "--dry-run"], terminal_width=200)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if " -m verl.trainer.main_ppo " in x)
    argv = shlex.split(line)
    cfg = compose_verl(argv[3:])
    assert cfg.actor_rollout_ref.model.path == "Qwen/Qwen3-8B" and cfg.actor_rollout_ref.rollout.n == 16
    assert run_dir.exists() == existed  # nothing written


@pytest.fixture(scope="module")
def tiny_store(tiny_models, tmp_path_factory):
    path = tmp_path_factory.mktemp("stores") / "good"
    write_store(path, tiny_models, train_rows(tiny_models), n_per_prompt=40)
    return path


def test_dry_run_with_store_plans_draws_and_writes_nothing(tiny_models, tiny_store, tmp_path, capsys):
    recipe = tiny_verl_recipe(tiny_models, tmp_path / "run", tiny_store)
    dry_run(recipe)
    captured = capsys.readouterr()
    assert "64 training rows planned" in captured.err
    assert captured.out.strip().split()[1:3] == ["-m", "verl.trainer.main_ppo"]
    assert not (tmp_path / "run").exists()


def test_store_of_another_tokenizer_is_refused(tiny_models, tmp_path):
    store = tmp_path / "other"
    write_store(store, tiny_models, train_rows(tiny_models), n_per_prompt=40, tokenizer_hash="0123456789abcdef")
    with pytest.raises(UserError, match="another tokenizer.*must share one tokenizer"):
        dry_run(tiny_verl_recipe(tiny_models, tmp_path / "run", store))


def test_store_too_small_for_draws_without_replacement_is_refused(tiny_models, tmp_path):
    store = tmp_path / "small"
    write_store(store, tiny_models, train_rows(tiny_models), n_per_prompt=8)
    with pytest.raises(UserError, match=r"s2lpo sample --n \d+"):
        dry_run(tiny_verl_recipe(tiny_models, tmp_path / "run", store))


def test_luffy_has_no_verl_implementation(tiny_models, tiny_store, tmp_path):
    with pytest.raises(UserError, match="luffy"):
        dry_run(tiny_verl_recipe(tiny_models, tmp_path / "run", tiny_store, "off_policy.correction=luffy"))


def test_launch_without_gpus_stops_before_writing(tiny_models, tiny_store, tmp_path):
    with pytest.raises(UserError, match="engine.gpus_per_node: this machine has 0 GPUs"):
        launch(tiny_verl_recipe(tiny_models, tmp_path / "run", tiny_store))
    assert not (tmp_path / "run").exists()


def test_store_sampled_with_another_prompt_is_refused(tiny_models, tmp_path):
    store = tmp_path / "other_prompt"
    write_store(store, tiny_models, train_rows(tiny_models), n_per_prompt=40, instruction="Think hard.")
    with pytest.raises(UserError, match="another prompt"):
        dry_run(tiny_verl_recipe(tiny_models, tmp_path / "run", store))


def test_verl_outside_the_pinned_range_is_refused():
    import importlib.metadata

    import tomllib

    from s2lpo_cli.preflight.verl import VERL_VERSIONS, verl_version_problem

    assert verl_version_problem(importlib.metadata.version("verl")) is None  # the installed one is supported
    assert "verl>=0.9.1,<0.10" in verl_version_problem("0.9.0") and verl_version_problem("0.10.0")
    extra = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert f"verl>={VERL_VERSIONS[0]},<{VERL_VERSIONS[1]}" in extra["verl"]
