"""One run-folder layout: RunFolder names every file a training run writes, and writes env.json atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.run_folder import RunFolder, environment


def test_a_crash_while_writing_env_json_leaves_the_old_file(tmp_path, monkeypatch):
    folder = RunFolder(tmp_path)
    folder.write_env({"device": "old"})
    real_write_text = Path.write_text

    def crash_halfway(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(Path, "write_text", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        folder.write_env(environment("embedded", "cpu"))
    monkeypatch.undo()
    assert json.loads(folder.env_path.read_text()) == {"device": "old"}
    assert [p.name for p in tmp_path.iterdir()] == [folder.env_path.name]  # no temporary file left behind


def test_environment_is_the_same_record_for_every_engine():
    embedded = environment("embedded", "cpu", torch_threads=1)
    verl = environment("verl", "verl (Ray cluster)")
    assert set(embedded) - set(verl) == {"torch_threads"}
    assert embedded["packages"] == verl["packages"] and "python" not in embedded["packages"]
    assert (embedded["engine"], verl["engine"]) == ("embedded", "verl")


@pytest.mark.slow
def test_an_embedded_run_writes_exactly_the_files_run_folder_names(tiny_models, tmp_path, monkeypatch):
    from s2lpo_cli.training.run import run_training

    # the thread count is the user's when set, else shared among live trainers: fix it for the env.json check
    monkeypatch.setenv("S2LPO_THREADS", "1")

    recipe = load_recipe("tiny", [
        f"models.target={tiny_models / 'target'}", f"output.run_dir={tmp_path / 'run'}", "data.limit=4",
        "optim.prompts_per_step=4", "optim.mini_batch=4", "optim.micro_batch=8", "rollout.group_size=2",
        "rollout.max_response_tokens=4", "schedule.total_steps=1", "schedule.anneal_steps=0",
        "output.save_every=1", "engine.device=cpu", "validation.every=1", "validation.limit=2", "validation.k=1",
        f"validation.benchmarks=[{tiny_models / 'data' / 'heldout.jsonl'}]",
    ]).as_baseline()
    folder = RunFolder(recipe.output.run_dir)
    assert run_training(recipe) == folder.root

    written = {p.name for p in folder.root.iterdir()}
    named = {folder.recipe_path, folder.command_path, folder.env_path, folder.metrics_path, folder.checkpoints,
             folder.final, folder.val_path, folder.validation(0).parent}
    assert written == {p.name for p in named}
    assert [p.name for p in folder.checkpoints.iterdir()] == [folder.checkpoint(1).name]
    assert folder.finished()
    assert load_recipe(folder.recipe_path) == recipe
    env = json.loads(folder.env_path.read_text())
    assert (env["engine"], env["device"], env["torch_threads"]) == ("embedded", "cpu", 1)
    assert len(folder.metrics_path.read_text().splitlines()) == 1
    assert sorted(p.name for p in folder.validation(0).parent.iterdir()) == [folder.validation(0).name,
                                                                             folder.validation(1).name]
    assert len(folder.val_path.read_text().splitlines()) == 2
