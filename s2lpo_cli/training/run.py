"""`run_training(recipe)`: check everything, then run the embedded trainer into the run folder.

Run folder: see `s2lpo_cli.run_folder`.
Every check (`s2lpo_cli.preflight`, shared with verl and `s2lpo sample`, plus the run folder's own)
happens before anything is written; all problems are reported together in one UserError.
Running a recipe whose run folder already holds the same recipe resumes from its latest checkpoint.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.grading.version import RULES_VERSION, rules_name
from s2lpo_cli.preflight.findings import Finding, raise_errors
from s2lpo_cli.recipe import Recipe, to_yaml
from s2lpo_cli.run_folder import RunFolder, environment
from s2lpo_cli.schedule import step_plan
from s2lpo_cli.training import metrics as metrics_file
from s2lpo_cli.training.checkpoint import (
    TrainerState,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    save_model,
)


@dataclass
class Preflight:
    """Everything the run needs, checked."""

    tokenizer: Any
    prompts: list[Any]  # trainer.Prompt
    explorer: dict[str, list[Any]] | None
    resume_from: Path | None
    complete: bool
    explorer_rules: int | None = None  # the grading rules the store's rewards were graded under (None: unrecorded)

    @property
    def regrade_explorer(self) -> bool:
        """The store's rewards come from other grading rules than the target's: grade its responses again."""
        return self.explorer is not None and self.explorer_rules != RULES_VERSION


def training_prompts(rows: list[Any], prompt_ids: list[list[int]]) -> list[Any]:
    """The trainer's prompts: each training row with its rendered token ids."""
    from s2lpo_cli.training.trainer import Prompt

    return [Prompt(prompt_id=r.prompt_id, answer=r.answer, token_ids=ids,
                   family=None if r.extra.get("family") is None else str(r.extra["family"]))
            for r, ids in zip(rows, prompt_ids, strict=True)]


def _check_run_dir(recipe: Recipe) -> tuple[Path | None, bool, list[Finding]]:
    """(checkpoint to resume from, whether the run is already complete, findings)."""
    folder = RunFolder(Path(recipe.output.run_dir))
    run_dir = folder.root
    if not run_dir.exists():
        return None, False, []
    saved = folder.recipe_path
    if not saved.is_file():
        if any(run_dir.iterdir()):
            return None, False, [Finding("run_dir.not_a_run", "output.run_dir",
                                         f"{run_dir} exists and is not a run folder; choose another output.run_dir")]
        return None, False, []
    if saved.read_text(encoding="utf-8") != to_yaml(recipe):
        return None, False, [Finding("run_dir.other_recipe", "output.run_dir",
                                     f"{run_dir} holds a run of another recipe ({saved} differs); choose another "
                                     "output.run_dir, or delete the folder to start over")]
    latest = latest_checkpoint(run_dir)
    return latest, folder.final.is_dir() and latest == folder.checkpoint(recipe.schedule.total_steps), []


def preflight(recipe: Recipe) -> Preflight:
    """Every check, before any work or write. Raises one UserError listing all problems."""
    from s2lpo_cli.preflight.embedded import check_embedded

    tokenizer, data, findings = check_embedded(recipe)
    resume_from, complete, run_dir_findings = _check_run_dir(recipe)
    raise_errors(f"cannot train {recipe.name}", findings + run_dir_findings)
    explorer = data.responses if data.store is not None else None
    rules = data.store.manifest.get("grading_rules_version") if data.store is not None else None
    return Preflight(tokenizer, training_prompts(data.rows, data.prompt_ids), explorer, resume_from, complete, rules)


# ---------------------------------------------------------------------- the run folder


def _command() -> str:
    return " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])


def _start_folder(recipe: Recipe, device: str, resuming: bool) -> RunFolder:
    import torch

    folder = RunFolder(Path(recipe.output.run_dir))
    folder.root.mkdir(parents=True, exist_ok=True)
    if resuming:
        folder.note_resumed(_command())
    else:
        folder.write_command(_command())
        folder.write_recipe(recipe)
    device_name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    folder.write_env(environment("embedded", device_name, torch_threads=torch.get_num_threads()))
    return folder


# ---------------------------------------------------------------------- the run


def _load_policy(path: str, device: str) -> Any:
    from s2lpo_cli.engines.loading import load_model_and_tokenizer

    model, _ = load_model_and_tokenizer(path, device)
    return model.float()  # float32 master weights (bfloat16 on GPU would lose small AdamW updates)


def run_training(recipe: Recipe) -> Path:
    """Train; returns the run folder. Resumes when the folder holds this recipe's checkpoints."""
    from transformers.utils import logging as hf_logging

    from s2lpo_cli.console import err
    from s2lpo_cli.engines.loading import resolve_device
    from s2lpo_cli.training.threads import TrainerRegistry

    hf_logging.disable_progress_bar()  # the training display is the only progress shown
    pre = preflight(recipe)
    run_dir = Path(recipe.output.run_dir)
    if pre.complete:
        err.print(f"{run_dir}: this run is already complete (final/ holds the model); nothing to do")
        return run_dir
    device = resolve_device(recipe.engine.device)
    steps = step_plan(recipe)
    with TrainerRegistry() as registry:
        return _train(recipe, pre, device, steps, registry)


def _train(recipe: Recipe, pre: Preflight, device: str, steps: list[Any], registry: Any) -> Path:
    from s2lpo_cli.console import err
    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.training.display import TrainingDisplay
    from s2lpo_cli.training.loggers import open_loggers
    from s2lpo_cli.training.threads import apply_threads
    from s2lpo_cli.training.trainer import Trainer
    from s2lpo_cli.training.trainer_config import TrainerConfig
    from s2lpo_cli.training.validation import Validation

    apply_threads(registry)
    folder = _start_folder(recipe, device, resuming=pre.resume_from is not None)  # env.json records the thread count
    run_dir, metrics_path = folder.root, folder.metrics_path

    model = _load_policy(str(pre.resume_from or recipe.models.target), device)
    ref = None
    if recipe.optim.kl.enabled:
        ref = _load_policy(recipe.models.target, device).eval().requires_grad_(False)
    done, done_step = 0, 0
    console = "console" in recipe.output.logger
    with Grader() as grader:
        trainer = Trainer(TrainerConfig.from_recipe(recipe), model, pre.tokenizer, pre.prompts, grader,
                          explorer=pre.explorer, ref_model=ref, regrade_explorer=pre.regrade_explorer)
        if pre.regrade_explorer:
            err.print(f"{recipe.models.explorer_rollouts}: its rewards were graded under "
                      f"{rules_name(pre.explorer_rules)}, this "
                      f"grader's are v{RULES_VERSION}: its responses are graded again as they are replayed",
                      highlight=False)
        if pre.resume_from is not None:
            state = load_checkpoint(pre.resume_from, model, trainer.optimizer)
            trainer.pool.load_state_dict(state.pool)
            done, done_step = state.physical_done, state.step
            err.print(f"resuming {run_dir} after step {state.step} ({pre.resume_from.name})")
        metrics_file.keep_first(metrics_path, done)
        validation = Validation(recipe, folder, grader, say=(lambda line: err.print(line, highlight=False)) if console else None)
        validation.resume_after(done_step)
        save_every = recipe.output.save_every
        with (TrainingDisplay(len(steps), done, recipe.schedule.total_steps, enabled=console) as display,
              open_loggers(recipe, run_dir, done) as loggers):
            validation_s = validation.validate(0, trainer.engine)  # counted in the first step's line
            for i in range(done, len(steps)):
                apply_threads(registry)  # trainers started or ended since: take a fair share of the cores
                m = trainer.step(i, steps[i])
                t = steps[i].step
                ends_logical = i == len(steps) - 1 or steps[i + 1].step != t
                if ends_logical:  # before the checkpoint: a checkpoint implies its validation is logged
                    validation_s += validation.validate(t, trainer.engine)
                m["time_validation_s"], validation_s = validation_s, 0.0
                metrics_file.append(metrics_path, m)
                loggers.log(i + 1, m)
                display.show(m)
                if ends_logical and ((save_every and t % save_every == 0) or i == len(steps) - 1):
                    state = TrainerState(step=t, physical_done=i + 1, pool=trainer.pool.state_dict())
                    save_checkpoint(run_dir, model, pre.tokenizer, trainer.optimizer, state)
    final = folder.final
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, pre.tokenizer, tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    err.print(f"[green]done[/]: {len(steps)} optimizer steps; metrics {metrics_path}, model {final}")
    return run_dir
