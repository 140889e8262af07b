"""`run_training(recipe)`: check everything, then run the embedded trainer into the run folder.

Run folder: recipe.yaml (resolved), command.txt, env.json, metrics.jsonl, checkpoints/step_NNNN/, final/.
Every check (`s2lpo_cli.preflight`, shared with verl and `s2lpo sample`, plus the run folder's own)
happens before anything is written; all problems are reported together in one UserError.
Running a recipe whose run folder already holds the same recipe resumes from its latest checkpoint.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.preflight.findings import Finding, raise_errors
from s2lpo_cli.provenance import git_hash, package_versions
from s2lpo_cli.recipe import Recipe, to_yaml
from s2lpo_cli.training import metrics as metrics_file
from s2lpo_cli.training.assembly import run_steps
from s2lpo_cli.training.checkpoint import (
    TrainerState,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
    save_model,
)

RECIPE_FILE = "recipe.yaml"


@dataclass
class Preflight:
    """Everything the run needs, checked."""

    tokenizer: Any
    prompts: list[Any]  # trainer.Prompt
    explorer: dict[str, list[Any]] | None
    resume_from: Path | None
    complete: bool


def training_prompts(rows: list[Any], prompt_ids: list[list[int]]) -> list[Any]:
    """The trainer's prompts: each training row with its rendered token ids."""
    from s2lpo_cli.training.trainer import Prompt

    return [Prompt(prompt_id=r.prompt_id, answer=r.answer, token_ids=ids) for r, ids in zip(rows, prompt_ids, strict=True)]


def _check_run_dir(recipe: Recipe) -> tuple[Path | None, bool, list[Finding]]:
    """(checkpoint to resume from, whether the run is already complete, findings)."""
    run_dir = Path(recipe.output.run_dir)
    if not run_dir.exists():
        return None, False, []
    saved = run_dir / RECIPE_FILE
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
    complete = (run_dir / "final").is_dir() and latest is not None and latest.name.endswith(
        f"{recipe.schedule.total_steps:04d}")
    return latest, complete, []


def preflight(recipe: Recipe) -> Preflight:
    """Every check, before any work or write. Raises one UserError listing all problems."""
    from s2lpo_cli.preflight.embedded import check_embedded

    tokenizer, data, findings = check_embedded(recipe)
    resume_from, complete, run_dir_findings = _check_run_dir(recipe)
    raise_errors(f"cannot train {recipe.name}", findings + run_dir_findings)
    explorer = data.responses if data.store is not None else None
    return Preflight(tokenizer, training_prompts(data.rows, data.prompt_ids), explorer, resume_from, complete)


# ---------------------------------------------------------------------- the run folder


def environment(device: str) -> dict[str, Any]:
    import torch

    versions = package_versions(
        ("s2lpo", "torch", "transformers", "tokenizers", "safetensors", "math-verify", "verl", "vllm", "trl")
    )
    return {
        "python": versions.pop("python"),
        "platform": platform.platform(),
        "packages": versions,
        "git": git_hash(),
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch_threads": torch.get_num_threads(),
    }


def _command() -> str:
    return " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])


def _start_folder(recipe: Recipe, device: str, resuming: bool) -> Path:
    run_dir = Path(recipe.output.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if resuming:
        with (run_dir / "command.txt").open("a", encoding="utf-8") as fh:
            fh.write(f"# resumed: {_command()}\n")
    else:
        write_text_atomic(run_dir / "command.txt", _command() + "\n")
        write_text_atomic(run_dir / RECIPE_FILE, to_yaml(recipe))
    write_text_atomic(run_dir / "env.json", json.dumps(environment(device), indent=1) + "\n")
    return run_dir


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
    steps = run_steps(recipe)
    with TrainerRegistry() as registry:
        return _train(recipe, pre, device, steps, registry)


def _train(recipe: Recipe, pre: Preflight, device: str, steps: list[Any], registry: Any) -> Path:
    from s2lpo_cli.console import err
    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.training.display import TrainingDisplay
    from s2lpo_cli.training.threads import apply_threads
    from s2lpo_cli.training.trainer import Trainer

    run_dir = Path(recipe.output.run_dir)
    apply_threads(registry)
    _start_folder(recipe, device, resuming=pre.resume_from is not None)  # env.json records the thread count
    metrics_path = run_dir / "metrics.jsonl"

    model = _load_policy(str(pre.resume_from or recipe.models.target), device)
    ref = None
    if recipe.optim.kl.enabled:
        ref = _load_policy(recipe.models.target, device).eval().requires_grad_(False)
    done = 0
    with Grader() as grader:
        trainer = Trainer(recipe, model, pre.tokenizer, pre.prompts, grader, explorer=pre.explorer, ref_model=ref)
        if pre.resume_from is not None:
            state = load_checkpoint(pre.resume_from, model, trainer.optimizer)
            trainer.pool.load_state_dict(state.pool)
            done = state.physical_done
            err.print(f"resuming {run_dir} after step {state.step} ({pre.resume_from.name})")
        metrics_file.keep_first(metrics_path, done)
        save_every = recipe.output.save_every
        console = "console" in recipe.output.logger
        with TrainingDisplay(len(steps), done, recipe.schedule.total_steps, enabled=console) as display:
            for i in range(done, len(steps)):
                apply_threads(registry)  # trainers started or ended since: take a fair share of the cores
                m = trainer.step(i, steps[i])
                metrics_file.append(metrics_path, m)
                display.show(m)
                t = steps[i].step
                ends_logical = i == len(steps) - 1 or steps[i + 1].step != t
                if ends_logical and ((save_every and t % save_every == 0) or i == len(steps) - 1):
                    state = TrainerState(step=t, physical_done=i + 1, pool=trainer.pool.state_dict())
                    save_checkpoint(run_dir, model, pre.tokenizer, trainer.optimizer, state)
    final = run_dir / "final"
    tmp = run_dir / "final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, pre.tokenizer, tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    err.print(f"[green]done[/]: {len(steps)} optimizer steps; metrics {metrics_path}, model {final}")
    return run_dir
