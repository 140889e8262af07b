"""TensorBoard and wandb sinks of embedded runs: what they write, and what a resume after a kill leaves."""

from __future__ import annotations

import os

import pytest

from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.training.loggers import TensorBoardLogger, WandbLogger, scalars

from .tb_events import accumulated, event_scalars


def records(values: list[float]) -> list[dict]:
    """metrics.jsonl-like records: a string (skipped), a null (skipped), numbers with and without a verl name."""
    return [{"step": i + 1, "phase": "mixed", "kl": None, "reward_mean": v, "clip_frac": v / 10, "g_w": 4}
            for i, v in enumerate(values)]


def test_scalars_are_the_numbers_under_our_names_and_verls():
    assert scalars(records([0.25])[0]) == {"step": 1.0, "reward_mean": 0.25, "critic/score/mean": 0.25,
                                           "clip_frac": 0.025, "actor/pg_clipfrac": 0.025, "g_w": 4.0}
    # accuracy shares verl's critic/score/mean with reward_mean: the first key keeps the name
    assert scalars({"reward_mean": 0.5, "accuracy": 0.75})["critic/score/mean"] == 0.5
    # a per-family record gives one scalar per family; null (no family in the data) gives none
    assert scalars({"nonzero_adv_frac_by_family": {"add": 0.5, "chain": 0.25}}) == {
        "nonzero_adv_frac_by_family/add": 0.5, "nonzero_adv_frac_by_family/chain": 0.25}
    assert scalars({"nonzero_adv_frac_by_family": None}) == {}
    # keys after a per-family, null or text value still count
    assert scalars({"nonzero_adv_frac_by_family": {"add": 0.5}, "mode": "mixed", "kl": None, "g_w": 3}) == {
        "nonzero_adv_frac_by_family/add": 0.5, "g_w": 3.0}


def test_tensorboard_reads_back_each_step_of_the_records(tmp_path):
    logger = TensorBoardLogger(tmp_path, done=0)
    for i, record in enumerate(records([0.25, 0.5, 0.75])):
        logger.log(i + 1, record)
    logger.close()
    shown = accumulated(tmp_path)
    assert set(shown) == {"step", "reward_mean", "critic/score/mean", "clip_frac", "actor/pg_clipfrac", "g_w"}
    assert shown["reward_mean"] == shown["critic/score/mean"] == [(1, 0.25), (2, 0.5), (3, 0.75)]
    assert shown["clip_frac"] == [(1, pytest.approx(0.025)), (2, pytest.approx(0.05)), (3, pytest.approx(0.075))]


def test_reopening_after_a_kill_keeps_each_step_once(tmp_path):
    killed = TensorBoardLogger(tmp_path, done=0)
    for i, record in enumerate(records([0.1, 0.2, 0.3])):  # the checkpoint covers steps 1-2; 3 was logged, then the kill
        killed.log(i + 1, record)
    first_two = [e for e in event_scalars(tmp_path) if e[1] <= 2]

    resumed = TensorBoardLogger(tmp_path, done=2)
    for step, record in ((3, records([0.3, 0.3, 0.35])[2]), (4, records([0, 0, 0, 0.4])[3])):
        resumed.log(step, record)
    resumed.close()

    events = event_scalars(tmp_path)
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1
    assert sorted((tag, step) for tag, step, _, _ in events) == sorted({(t, s) for t, s, _, _ in events})
    assert [e for e in events if e[1] <= 2] == first_two  # values and wall times of the kept steps
    assert accumulated(tmp_path)["reward_mean"] == [(1, pytest.approx(0.1)), (2, pytest.approx(0.2)),
                                                    (3, pytest.approx(0.35)), (4, pytest.approx(0.4))]


def test_a_run_killed_before_its_first_checkpoint_starts_an_empty_board(tmp_path):
    TensorBoardLogger(tmp_path, done=0).log(1, records([0.9])[0])
    TensorBoardLogger(tmp_path, done=0).close()
    assert event_scalars(tmp_path) == []


def test_wandb_logs_offline_into_the_run_folder_and_a_resume_continues_its_run(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    recipe = load_recipe("tiny", [f"output.run_dir={tmp_path}", "output.logger=[jsonl, wandb]"])
    for step in (1, 2):
        logger = WandbLogger(recipe, tmp_path)
        logger.log(step, records([0.5])[0])
        logger.close()
    run_id = (tmp_path / "wandb_id.txt").read_text().strip()
    runs = sorted(p.name for p in (tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(name.endswith(f"-{run_id}") for name in runs)
    assert not os.environ.get("WANDB_MODE")


def test_a_kill_during_the_rewrite_leaves_copies_the_next_opening_merges(tmp_path):
    import shutil

    first = TensorBoardLogger(tmp_path, done=0)
    for i, record in enumerate(records([0.1, 0.2])):
        first.log(i + 1, record)
    first.close()
    [written] = tmp_path.glob("events.out.tfevents.*")
    shutil.copy(written, tmp_path / (written.name + ".rewritten"))  # the rewrite's file, the old one not yet removed
    TensorBoardLogger(tmp_path, done=2).close()
    events = event_scalars(tmp_path)
    assert sorted((tag, step) for tag, step, _, _ in events) == sorted({(t, s) for t, s, _, _ in events})
    assert accumulated(tmp_path)["reward_mean"] == [(1, pytest.approx(0.1)), (2, pytest.approx(0.2))]


class FakeWandb:
    """The part of wandb the logger calls, recording what it was given."""

    def __init__(self):
        self.inits, self.logged = [], []

    def Settings(self, **kw):  # noqa: N802 (wandb's name)
        return kw

    def init(self, **kw):
        self.inits.append(kw)
        return self

    def log(self, values, step):
        self.logged.append((step, values))

    def finish(self):
        pass


def test_wandb_is_told_the_run_and_offline_unless_the_user_chose(tmp_path, monkeypatch):
    import re
    import sys

    fake = FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    recipe = load_recipe("tiny", [f"output.run_dir={tmp_path}", "output.logger=[jsonl, wandb]"])
    logger = WandbLogger(recipe, tmp_path)
    logger.log(3, records([0.5])[0])
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_PROJECT", "mine")
    WandbLogger(recipe, tmp_path)

    first, second = fake.inits
    run_id = first["id"]
    assert re.fullmatch("[0-9a-f]{8}", run_id) and (tmp_path / "wandb_id.txt").read_text() == run_id + "\n"
    assert first == {"project": "s2lpo", "name": "tiny", "id": run_id, "resume": "allow", "dir": str(tmp_path),
                     "config": recipe.model_dump(mode="json"), "mode": "offline", "settings": {"console": "off"}}
    assert second == {**first, "project": "mine", "mode": None}  # the same run; WANDB_MODE decides
    assert fake.logged == [(3, scalars(records([0.5])[0]))]


def test_each_sink_gets_the_step_and_the_record():
    from s2lpo_cli.training.loggers import MetricLoggers

    class Recording:
        def __init__(self):
            self.calls = []

        def log(self, step, metrics):
            self.calls.append((step, metrics))

    first, second = Recording(), Recording()
    MetricLoggers([first, second]).log(7, {"reward_mean": 0.25})
    assert first.calls == second.calls == [(7, {"reward_mean": 0.25})]
