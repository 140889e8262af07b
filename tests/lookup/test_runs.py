"""The newest finished training run under ./runs/, for `s2lpo eval` without --model."""

import os
from pathlib import Path

from s2lpo_cli.lookup.runs import finished_runs, newest_finished_run


def _run(root: Path, name: str, final: bool, when: float) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "recipe.yaml").write_text(f"name: {name}\n")
    if final:
        (run / "final").mkdir()
        os.utime(run / "final", (when, when))
    return run


def test_newest_final_wins_and_unfinished_runs_are_skipped(tmp_path):
    old = _run(tmp_path, "old", final=True, when=1_000)
    new = _run(tmp_path, "new", final=True, when=2_000)
    _run(tmp_path, "going", final=False, when=3_000)
    (tmp_path / "not_a_run" / "final").mkdir(parents=True)  # no recipe.yaml
    assert finished_runs(tmp_path) == [new, old]
    os.utime(old / "final", (5_000, 5_000))  # the old run was resumed and finished last
    assert newest_finished_run(tmp_path) == old


def test_a_verl_run_final_link_counts(tmp_path):
    _run(tmp_path, "embedded", final=True, when=1_000)
    verl = _run(tmp_path, "verl", final=False, when=0)
    hf = verl / "verl" / "checkpoints" / "global_step_16" / "actor" / "huggingface"
    hf.mkdir(parents=True)
    os.symlink(os.path.relpath(hf, verl), verl / "final", target_is_directory=True)
    os.utime(verl / "final", (2_000, 2_000), follow_symlinks=False)
    assert newest_finished_run(tmp_path) == verl
    (verl / "final").unlink()
    os.symlink("verl/checkpoints/missing", verl / "final")  # a dangling link is no final model
    assert finished_runs(tmp_path) == [tmp_path / "embedded"]


def test_no_runs_folder(tmp_path):
    assert newest_finished_run(tmp_path / "runs") is None
