"""Validation in the embedded trainer: val.jsonl rows equal `s2lpo eval` on the same weights, and a killed
run resumed from its checkpoint has every validation step exactly once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from s2lpo_cli.cli.app import app
from s2lpo_cli.evaluation.validation import VAL_KEYS
from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.training.metrics import METRIC_KEYS

QUESTIONS, K, MAX_TOKENS = 5, 2, 12


def _recipe(tiny_models: Path, run_dir: Path, *sets: str):
    """Plain GRPO on the tiny target (no explorer store needed), 3 steps, validation after each."""
    return load_recipe("tiny", [
        "models.explorer=null", "models.explorer_rollouts=null", f"models.target={tiny_models / 'target'}",
        f"output.run_dir={run_dir}", "data.limit=8", "optim.prompts_per_step=4", "optim.mini_batch=4",
        "optim.micro_batch=8", "rollout.group_size=4", f"rollout.max_response_tokens={MAX_TOKENS}",
        "schedule.anneal_steps=0", "schedule.total_steps=3", "output.save_every=1", "engine.device=cpu",
        "output.logger=[jsonl]", f"validation.benchmarks=[{tiny_models / 'data' / 'heldout.jsonl'}]",
        "validation.every=1", f"validation.limit={QUESTIONS}", f"validation.k={K}", "validation.seed=3", *sets,
    ])


def _val(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "val.jsonl").read_text().splitlines()]


def _without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def _eval(model: Path, heldout: Path, out: Path, *extra: str) -> dict:
    """`s2lpo eval` with the settings the recipe's validation section names."""
    result = CliRunner().invoke(app, [
        "eval", "--model", str(model), "--mode", "nothink", "--k", str(K), "--benchmark-file", str(heldout),
        "--limit", str(QUESTIONS), "--seed", "3", "--temperature", "1.0", "--top-p", "1.0", "--top-k", "-1",
        "--presence-penalty", "0", "--max-tokens", str(MAX_TOKENS), "--device", "cpu", "--output", str(out), "--json", *extra,
    ])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["benchmarks"]["heldout"]


def test_val_rows_are_what_s2lpo_eval_gives_for_the_same_weights(tiny_models, tmp_path):
    from s2lpo_cli.training.run import run_training

    run_dir = tmp_path / "run"
    run_training(_recipe(tiny_models, run_dir))
    rows = _val(run_dir)
    assert [(r["step"], r["benchmark"]) for r in rows] == [(0, "heldout"), (1, "heldout"), (2, "heldout"), (3, "heldout")]
    assert all(list(r) == list(VAL_KEYS) and r["n_questions"] == QUESTIONS and r["k"] == K for r in rows)
    assert all(r["mode"] == "nothink" and r["seconds"] > 0 for r in rows)

    heldout = tiny_models / "data" / "heldout.jsonl"
    for step, model in ((0, tiny_models / "target"), (2, run_dir / "checkpoints" / "step_0002")):
        evaluated = _eval(model, heldout, tmp_path / f"eval{step}")
        row = rows[step]
        assert {k: row[k] for k in evaluated} == evaluated  # pass@1, pass@k, lengths, versions: all equal
    # the raw responses of each validation are kept in eval's layout
    assert (run_dir / "validation" / "step_0002" / "heldout" / "heldout_raw.jsonl").is_file()

    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(list(m) == list(METRIC_KEYS) for m in metrics)
    # step 1's line holds the validation before training and after step 1; the rest their own
    assert metrics[0]["time_validation_s"] >= rows[0]["seconds"] + rows[1]["seconds"]
    assert [m["time_validation_s"] >= r["seconds"] for m, r in zip(metrics[1:], rows[2:], strict=True)] == [True, True]


def test_a_run_killed_before_its_checkpoint_validates_each_step_once(tiny_models, tmp_path, monkeypatch):
    """Killed after step 2 was validated but before its checkpoint, mid-way through writing a val row:
    the resumed run drops step 2's rows and files, recomputes step 2 and logs it once, as an unbroken run did."""
    from s2lpo_cli.training import run as run_module

    full, cut = tmp_path / "full", tmp_path / "cut"
    run_module.run_training(_recipe(tiny_models, full))

    save = run_module.save_checkpoint

    def killed_at_step_2(run_dir, model, tokenizer, optimizer, state):
        if state.step == 2:
            with (cut / "val.jsonl").open("a") as fh:
                fh.write('{"step": 2, "benchmark": "hel')  # the torn line a kill leaves
            raise KeyboardInterrupt
        return save(run_dir, model, tokenizer, optimizer, state)

    monkeypatch.setattr(run_module, "save_checkpoint", killed_at_step_2)
    with pytest.raises(KeyboardInterrupt):
        run_module.run_training(_recipe(tiny_models, cut))
    *complete, torn = (cut / "val.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in complete] == [0, 1, 2] and torn.endswith('"hel')
    assert (cut / "validation" / "step_0002").is_dir()
    monkeypatch.setattr(run_module, "save_checkpoint", save)

    run_module.run_training(_recipe(tiny_models, cut))
    assert [r["step"] for r in _val(cut)] == [0, 1, 2, 3]
    assert _without_time(_val(cut)) == _without_time(_val(full))


def test_the_console_line_of_a_row():
    from s2lpo_cli.training.validation import row_line

    row = {"step": 10, "benchmark": "heldout", "k": 4, "pass@1": 0.125, "pass@k": {"1": 0.125, "4": 0.3},
           "n_questions": 139, "seconds": 3.14}
    assert row_line(row) == "validation step 10: heldout pass@1 12.5%  pass@4 30.0%  (139 questions x 4, 3.1s)"


@pytest.mark.slow
def test_kill_9_anywhere_then_resume_logs_each_validation_once(tiny_models, tmp_path):
    """A real `s2lpo train` killed with SIGKILL once step 2's validation is logged (its checkpoint may or may not
    be written yet), then run again: val.jsonl ends with steps 0..3 once each, equal to an unbroken run's."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from s2lpo_cli.recipe import to_yaml
    from s2lpo_cli.training.run import run_training

    full, cut = tmp_path / "full", tmp_path / "cut"
    run_training(_recipe(tiny_models, full))
    path = tmp_path / "cut.yaml"
    path.write_text(to_yaml(_recipe(tiny_models, cut)))
    command = [sys.executable, "-m", "s2lpo_cli.cli.app", "train", str(path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while '"step": 2' not in ((cut / "val.jsonl").read_text() if (cut / "val.jsonl").is_file() else ""):
        assert killed.poll() is None, killed.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert [r["step"] for r in _val(cut)] == [0, 1, 2, 3]
    assert _without_time(_val(cut)) == _without_time(_val(full))


def test_validation_with_the_training_instruction_is_s2lpo_eval_with_that_instruction(tiny_models, tmp_path):
    """validation.instruction asks the held-out questions as training asks its own (the tiny recipe's
    instruction): the step-0 row equals `s2lpo eval --instruction` on the untrained target."""
    from s2lpo_cli.tiny.task import TINY_INSTRUCTION
    from s2lpo_cli.training.run import run_training

    run_dir = tmp_path / "run"
    run_training(_recipe(tiny_models, run_dir, "schedule.total_steps=1", f"validation.instruction={TINY_INSTRUCTION}"))
    row = _val(run_dir)[0]
    heldout = tiny_models / "data" / "heldout.jsonl"
    evaluated = _eval(tiny_models / "target", heldout, tmp_path / "eval", "--instruction", TINY_INSTRUCTION)
    assert row["step"] == 0 and {k: row[k] for k in evaluated} == evaluated


def _planned(tmp_path: Path, *sets: str):
    """A Validation before training and after steps 2 and 4 of 4 (every 2) on one benchmark file, `heldout`."""
    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.run_folder import RunFolder
    from s2lpo_cli.training.validation import Validation

    bench = tmp_path / "heldout.jsonl"
    bench.write_text(json.dumps({"id": "q1", "question": "1+1?", "answer": "2"}) + "\n")
    recipe = load_recipe("tiny", [f"output.run_dir={tmp_path / 'run'}", "schedule.anneal_steps=2",
                                  "schedule.total_steps=4", "validation.every=2", f"validation.benchmarks=[{bench}]", *sets])
    return Validation(recipe, RunFolder(tmp_path / "run"), Grader(workers=1))


def _row(step: int) -> dict:
    return {"step": step, "benchmark": "heldout", "pass@1": 0.5}


def test_unplanned_steps_and_logged_benchmarks_are_not_validated(tmp_path):
    """No engine is needed (None would fail in generation) where validation must not run: a step off the plan,
    a (step, benchmark) already in val.jsonl, or validation switched off."""
    validation = _planned(tmp_path)
    assert validation.steps == {0, 2, 4}
    assert validation.validate(1, engine=None) == 0.0
    assert not validation.folder.val_path.exists()
    validation.folder.root.mkdir()
    validation.folder.val_path.write_text(json.dumps(_row(2)) + "\n")
    assert validation.validate(2, engine=None) < 1.0
    assert _val(validation.folder.root) == [_row(2)]
    assert _planned(tmp_path, "validation.every=0").validate(4, engine=None) == 0.0


def test_resuming_forgets_the_validation_after_the_checkpoint(tmp_path):
    """Resuming after step 2 keeps val.jsonl's rows and step folders of steps 0 to 2 and deletes the later ones;
    a folder that is not `step_<digits>` is left alone."""
    validation = _planned(tmp_path)
    root = validation.folder.root
    root.mkdir()
    validation.folder.val_path.write_text("".join(json.dumps(_row(s)) + "\n" for s in (0, 2, 3, 4)))
    for name in ("step_0000", "step_0002", "step_0003", "step_0004", "step_0004.tmp", "notes"):
        (root / "validation" / name).mkdir(parents=True)
    validation.resume_after(2)
    assert [r["step"] for r in _val(root)] == [0, 2]
    assert sorted(p.name for p in (root / "validation").iterdir()) == ["notes", "step_0000", "step_0002",
                                                                        "step_0004.tmp"]


class _AlwaysTwo:
    """Answers every question with \\boxed{2}; counts its generate() calls."""

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, params, seeds=None):
        from s2lpo_cli.engines.base import Completion, PromptOutput

        self.calls += 1
        return [PromptOutput(prompt_token_ids=[1], completions=[
            Completion("The answer is \\boxed{2}.", [5, 6], [0.0, 0.0], "stop") for _ in range(params.n)])
            for _ in prompts]


def test_each_planned_benchmark_is_validated_once_into_its_own_row(tmp_path):
    """Step 2 of a plan with benchmarks a and b, a already in val.jsonl: only b runs (one generate call), into
    validation/step_0002/b/, and its row names step, benchmark, mode and its seconds; the console gets its line."""
    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.run_folder import RunFolder
    from s2lpo_cli.training.validation import Validation, row_line

    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({"id": "q1", "question": "1+1?", "answer": "2"}) + "\n")
    recipe = load_recipe("tiny", [f"output.run_dir={tmp_path / 'run'}", "schedule.anneal_steps=2",
                                  "schedule.total_steps=4", "validation.every=2", "validation.k=2",
                                  f"validation.benchmarks=[{tmp_path / 'a.jsonl'},{tmp_path / 'b.jsonl'}]"])
    said, engine = [], _AlwaysTwo()
    with Grader(workers=1) as grader:
        validation = Validation(recipe, RunFolder(tmp_path / "run"), grader, say=said.append)
        validation.folder.root.mkdir()
        validation.folder.val_path.write_text(json.dumps({"step": 2, "benchmark": "a"}) + "\n")
        seconds = validation.validate(2, engine)
    rows = _val(validation.folder.root)
    assert engine.calls == 1 and rows[0] == {"step": 2, "benchmark": "a"}
    assert [(r["step"], r["benchmark"], r["mode"], r["pass@1"], r["n_questions"]) for r in rows[1:]] == [
        (2, "b", "nothink", 1.0, 1)]
    assert 0 < rows[1]["seconds"] <= seconds < 60
    assert said == [row_line(rows[1])]
    assert (validation.folder.root / "validation" / "step_0002" / "b").is_dir()
    assert not (validation.folder.root / "validation" / "step_0002" / "a").exists()
