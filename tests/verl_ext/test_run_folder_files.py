"""A verl launch writes its run folder through RunFolder: the embedded layout's files, plus command.sh and verl/."""

from __future__ import annotations

import json
import os
import shlex

import pytest

from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.run_folder import RunFolder
from s2lpo_cli.verl_ext.draws import plan_draws
from s2lpo_cli.verl_ext.launch import Prepared, write_run_folder

from .conftest import tiny_verl_recipe, train_rows, write_store

pytestmark = pytest.mark.verl


def test_write_run_folder_writes_the_files_run_folder_names(tiny_models, tmp_path):
    rows = train_rows(tiny_models)
    store = write_store(tmp_path / "store", tiny_models, rows, n_per_prompt=40)
    responses = {pid: {r.response_index: r for r in group} for pid, group in store.responses_by_prompt().items()}
    recipe = tiny_verl_recipe(tiny_models, tmp_path / "run", tmp_path / "store")
    planned = plan_draws(rows, recipe, {pid: sorted(g) for pid, g in responses.items()})

    paths, argv = write_run_folder(recipe, Prepared(planned, rows[:4], responses))

    folder = RunFolder(recipe.output.run_dir)
    named = {folder.recipe_path, folder.command_path, folder.script_path, folder.env_path, paths.root}
    assert {p.name for p in folder.root.iterdir()} == {p.name for p in named}
    assert load_recipe(folder.recipe_path) == recipe
    assert shlex.split(folder.command_path.read_text()) == argv
    assert os.access(folder.script_path, os.X_OK)
    env = json.loads(folder.env_path.read_text())
    assert (env["engine"], env["device"]) == ("verl", "verl (Ray cluster)") and "verl" in env["packages"]
