"""Which checkpoint a resume starts from, and saving over what a kill or an earlier save left."""

import torch

from s2lpo_cli.training.checkpoint import STATE, TrainerState, latest_checkpoint, save_checkpoint


def _folder(root, name, complete=True):
    path = root / "checkpoints" / name
    path.mkdir(parents=True)
    if complete:
        (path / STATE).write_text("{}")
    return path


def test_latest_is_the_highest_complete_step_by_number_not_by_name(tmp_path):
    assert latest_checkpoint(tmp_path) is None  # no checkpoints/ yet
    (tmp_path / "checkpoints").mkdir()
    assert latest_checkpoint(tmp_path) is None
    _folder(tmp_path, "step_9999")
    latest = _folder(tmp_path, "step_10000")  # sorts before step_9999 as a string
    _folder(tmp_path, "step_10001", complete=False)  # killed before trainer_state.json was written
    _folder(tmp_path, "step_10002.tmp")  # a temporary folder, even with a state file
    _folder(tmp_path, "final")
    assert latest_checkpoint(tmp_path) == latest


def test_saving_replaces_a_half_written_temporary_and_an_earlier_checkpoint_of_that_step(lm, tmp_path):
    load, tok = lm
    model = load()
    optimizer = torch.optim.AdamW(model.parameters())
    leftover = _folder(tmp_path, "step_0002.tmp", complete=False)  # a kill during an earlier save
    (leftover / "model.safetensors").write_text("cut")
    earlier = _folder(tmp_path, "step_0002")
    (earlier / "stale.txt").write_text("from an earlier attempt")
    path = save_checkpoint(tmp_path, model, tok, optimizer, TrainerState(2, 5, {"p": 1}))
    assert path == earlier and not leftover.exists() and not (path / "stale.txt").exists()
    assert (path / "model.safetensors").stat().st_size > 100 and latest_checkpoint(tmp_path) == path
