"""`s2lpo train` with `engine.kind: verl`: check up front, write the run folder, run verl (or submit it).

The checks are `s2lpo_cli.preflight.verl` (the data checks shared with the embedded trainer).
`dry_run` makes every check it can on this machine and prints the command; it writes nothing. A
check it cannot make here (no GPUs, models or rollout store on this machine) is a warning, so the
command of any recipe can be inspected anywhere. `launch` makes the same checks strictly, writes
`<run>/verl/` (parquet files, explorer bank, agent-loop config, extension.json), `command.sh` and
`command.txt`, then runs verl in a child process, or submits it as a Ray job with `--ray-address`.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.markup import escape

from s2lpo_cli.console import err, out
from s2lpo_cli.errors import UserError
from s2lpo_cli.preflight.findings import Finding, errors, not_checked, raise_errors
from s2lpo_cli.preflight.training_data import TrainingData
from s2lpo_cli.preflight.verl import GPUS_AT_JOB_START, check_verl
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.run_folder import RunFolder, environment
from s2lpo_cli.schedule import step_plan
from s2lpo_cli.verl_ext.command import (
    REWARD_FUNCTION,
    REWARD_MODULE,
    VerlPaths,
    agent_loop_config,
    shell_script,
    verl_command,
    verl_env,
)

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # s2lpo_cli/
VAL_ROWS = 64


@dataclass
class Prepared:
    """The data side of a run, ready to be written."""

    planned: list = field(default_factory=list)
    val_rows: list = field(default_factory=list)
    responses: dict = field(default_factory=dict)


def with_absolute_model_path(recipe: Recipe) -> Recipe:
    """A target given as a local relative path, made absolute: verl's processes may start elsewhere."""
    target = Path(recipe.models.target).expanduser()
    if not target.is_dir() or target.is_absolute():
        return recipe
    return recipe.model_copy(update={"models": recipe.models.model_copy(update={"target": str(target.resolve())})})


def prepare(recipe: Recipe, data: TrainingData) -> Prepared:
    """Training rows in verl's step order with their explorer draws; data the preflight passed."""
    from s2lpo_cli.verl_ext.draws import plan_draws

    responses = {pid: {r.response_index: r for r in group} for pid, group in data.responses.items()}
    available = {pid: sorted(group) for pid, group in responses.items()}
    return Prepared(plan_draws(data.rows, recipe, available), data.rows[:VAL_ROWS], responses)


def run_checks(recipe: Recipe, ray_address: str | None, *, strict: bool) -> tuple[list[Finding], Prepared]:
    """The verl preflight (`s2lpo_cli.preflight.verl`), then, when it found no error, the data laid out for verl."""
    data, findings = check_verl(recipe, ray_address, strict=strict)
    return findings, Prepared() if errors(findings) else prepare(recipe, data)


# ---------------------------------------------------------------- dry run and launch


def dry_run(recipe: Recipe, ray_address: str | None = None) -> None:
    """Every check this machine allows, then the verl command on stdout; nothing is written."""
    recipe = with_absolute_model_path(recipe)
    findings, prepared = run_checks(recipe, ray_address, strict=False)
    for finding in not_checked(findings):
        err.print(f"[yellow]warning:[/] {escape(str(finding))}", highlight=False)
    raise_errors(f"cannot launch verl for {recipe.name}", findings)
    paths = VerlPaths.for_run(recipe.output.run_dir)
    steps = len(step_plan(recipe))
    err.print(f"[bold]verl command[/] ({steps} global steps; would write {paths.root})")
    if prepared.planned:
        n_explorer = sum(len(p.explorer) for p in prepared.planned)
        err.print(f"{len(prepared.planned)} training rows planned, {n_explorer} explorer responses drawn")
    out.print(shlex.join(verl_command(recipe, paths)), markup=False, highlight=False, soft_wrap=True)


def write_run_folder(recipe: Recipe, prepared: Prepared) -> tuple[VerlPaths, list[str]]:
    from s2lpo_cli.verl_ext.draws import explorer_step_stats
    from s2lpo_cli.verl_ext.parquet import (
        bank_table,
        train_table,
        val_table,
        validate_verl_parquet,
        validation_table,
        write_bank,
        write_table,
    )

    run_dir = Path(recipe.output.run_dir)
    paths = VerlPaths.for_run(run_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    write_table(train_table(prepared.planned, recipe), paths.train_parquet)
    validation = validation_table(recipe) if recipe.validation.enabled else val_table(prepared.val_rows, recipe)
    write_table(validation, paths.val_parquet)
    write_bank(bank_table(prepared.planned, prepared.responses, recipe.rollout.max_response_tokens), paths.explorer_bank)
    validate_verl_parquet(paths.train_parquet, train=True)
    validate_verl_parquet(paths.val_parquet, train=False)
    paths.agent_loop_config.write_text(yaml.safe_dump(agent_loop_config(recipe, paths), sort_keys=False))
    stats = explorer_step_stats(prepared.planned, prepared.responses, recipe.rollout.max_response_tokens)
    paths.explorer_steps.write_text(json.dumps(stats, indent=1) + "\n")
    paths.extension.write_text(json.dumps({
        "reward_function": {"path": REWARD_MODULE, "name": REWARD_FUNCTION},
        "agent_loop_config": str(paths.agent_loop_config),
        "explorer_bank": str(paths.explorer_bank),
        "train_files": str(paths.train_parquet),
        "val_files": str(paths.val_parquet),
    }, indent=2) + "\n")
    argv = verl_command(recipe, paths)
    folder = RunFolder(run_dir)
    folder.write_recipe(recipe)
    folder.write_script(shell_script(argv, paths.metrics, verl_env(recipe)))
    folder.write_command(shlex.join(argv))
    folder.write_env(environment("verl", "verl (Ray cluster)"))
    return paths, argv


def launch(recipe: Recipe, ray_address: str | None = None) -> None:
    """Check strictly, write the run folder, then run verl here or submit it to the Ray cluster."""
    recipe = with_absolute_model_path(recipe)
    findings, prepared = run_checks(recipe, ray_address, strict=True)
    # a launch cannot skip what a dry run may, except GPUs that the Ray job server counts when the job starts
    counted_later = {GPUS_AT_JOB_START} if ray_address else set()
    findings = [f.as_error() if f.code not in counted_later else f for f in findings]
    raise_errors(f"cannot launch verl for {recipe.name}", findings)
    paths, argv = write_run_folder(recipe, prepared)
    run_dir = Path(recipe.output.run_dir).resolve()
    err.print(f"[bold]verl[/]: {len(step_plan(recipe))} global steps, run folder {run_dir}")
    if ray_address:
        submit(recipe, ray_address, run_dir)
        return
    env = dict(os.environ, PYTHON=argv[0])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    attempt_starts = paths.log.stat().st_size if paths.log.is_file() else 0  # the log keeps every attempt
    with paths.log.open("ab") as log:
        proc = subprocess.Popen(["bash", str(RunFolder(run_dir).script_path)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
        code = proc.wait()
    collect(run_dir, recipe)
    if code != 0:
        from s2lpo_cli.verl_ext.failure import failure_summary

        with paths.log.open("rb") as log:
            log.seek(attempt_starts)
            attempt = log.read().decode(errors="replace")
        cause = failure_summary(attempt) or f"verl exited with code {code}"
        raise UserError(f"{cause}. The log is {paths.log}; the run folder is kept: rerun `s2lpo train` with the same "
                        f"recipe (or `bash {run_dir}/command.sh`) to resume from the last checkpoint")


def collect(run_dir: Path, recipe: Recipe) -> None:
    from s2lpo_cli.verl_ext.checkpoints import convert_metrics, link_checkpoints
    from s2lpo_cli.verl_ext.validation import convert_validation

    steps = convert_metrics(run_dir, recipe)
    convert_validation(run_dir, recipe)
    exposed = link_checkpoints(run_dir, recipe)
    out.print(f"{run_dir}: {steps} steps in metrics.jsonl; checkpoints: {', '.join(sorted(exposed)) or 'none'}")


def ray_job(run_dir: Path) -> tuple[str, dict[str, Any]]:
    """The Ray job of a run: its entrypoint and runtime environment.

    The runtime environment only ships `s2lpo_cli`. Environment variables travel once, in the verl
    command's `ray_kwargs.ray_init.runtime_env` (which reaches every actor): verl's `main_ppo` calls
    `ray.init(runtime_env=...)` inside the job, and Ray refuses to start a driver whose runtime
    environment sets a variable the job's also sets ("Failed to merge the Job's runtime env").
    """
    entrypoint = (f"PYTHON=python bash {shlex.quote(str(RunFolder(run_dir).script_path))} && "
                  f"python -m s2lpo_cli.verl_ext.checkpoints {shlex.quote(str(run_dir))}")
    return entrypoint, {"py_modules": [str(PACKAGE_DIR)]}


def submit(recipe: Recipe, ray_address: str, run_dir: Path) -> None:
    """A Ray job that runs command.sh on the cluster, then maps verl's outputs into the run folder.

    The run folder must be on storage every node sees (verl reads the parquet files, the agent loop
    the explorer bank, and checkpoints are written there); s2lpo's modules travel with the job.
    """
    from ray.job_submission import JobSubmissionClient

    entrypoint, runtime_env = ray_job(run_dir)
    client = JobSubmissionClient(ray_address)
    job_id = client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env, submission_id=None)
    (run_dir / "verl" / "ray_job.json").write_text(json.dumps({"address": ray_address, "job_id": job_id,
                                                               "entrypoint": entrypoint}, indent=2) + "\n")
    out.print(f"submitted Ray job {job_id} to {ray_address}")
    err.print(f"follow it with: ray job logs --address {ray_address} --follow {job_id}")
