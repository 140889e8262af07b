"""`run_training(recipe)`: check everything, then run the embedded trainer into the run folder.

Run folder: see `s2lpo_cli.run_folder`.
Every check happens before anything is written; all problems are reported together in one UserError.
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

from s2lpo_cli.errors import UserError
from s2lpo_cli.recipe import Recipe, to_yaml
from s2lpo_cli.run_folder import RunFolder, environment
from s2lpo_cli.schedule import step_plan
from s2lpo_cli.training import metrics as metrics_file
from s2lpo_cli.training.assembly import explorer_demand, required_explorer_responses
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


def render_prompts(recipe: Recipe, tokenizer: Any, rows: list[Any], problems: list[str]) -> list[Any]:
    """Training rows as prompts rendered with the recipe's template; size problems go to `problems`."""
    from s2lpo_cli.prompting import build_messages, render_prompt
    from s2lpo_cli.training.trainer import Prompt

    d = recipe.data
    prompts, too_long = [], []
    for row in rows:
        messages = build_messages(row.question, d.prompt.instruction, d.prompt.system)
        text = render_prompt(tokenizer, messages, d.prompt.enable_thinking)
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        if len(ids) > d.max_prompt_tokens:
            too_long.append(len(ids))
        prompts.append(Prompt(prompt_id=row.prompt_id, answer=row.answer, token_ids=ids))
    if too_long:
        problems.append(f"data.max_prompt_tokens: {len(too_long)} prompts are longer than {d.max_prompt_tokens} "
                        f"tokens (longest {max(too_long)}); raise data.max_prompt_tokens or filter the data")
    if len(prompts) < recipe.optim.prompts_per_step:
        problems.append(f"optim.prompts_per_step: {recipe.optim.prompts_per_step} prompts per step, but the "
                        f"training set {d.train!r} holds {len(prompts)}; lower prompts_per_step")
    return prompts


def _check_store(recipe: Recipe, tokenizer: Any, prompts: list[Any], problems: list[str]) -> dict | None:
    from s2lpo_cli.prompting import tokenizer_hash

    o = recipe.optim
    steps = step_plan(recipe)
    if not any(s.explorer for s in steps) or len(prompts) < o.prompts_per_step:
        return None
    path = recipe.models.explorer_rollouts
    if path is None:
        problems.append("models.explorer_rollouts: S2L-PO steps need the explorer's rollout store; write one with "
                        "`s2lpo sample --recipe RECIPE` and set its folder here")
        return None
    if not Path(path).is_dir():
        problems.append(f"models.explorer_rollouts: {path}: no such rollout store; write it with "
                        "`s2lpo sample --recipe RECIPE`")
        return None
    from s2lpo_cli.data.rollout_store import RolloutStore

    store = RolloutStore.open(path)
    ours = tokenizer_hash(tokenizer)
    if store.tokenizer_hash != ours:
        problems.append(f"models.explorer_rollouts: {path} was tokenized with another tokenizer (hash "
                        f"{store.tokenizer_hash}) than the target {recipe.models.target} ({ours}): vocabulary or "
                        "chat template differ, so its token ids mean something else to the target")
        return None
    by_prompt = store.responses_by_prompt()
    need = required_explorer_responses(recipe)
    used = sorted(explorer_demand(steps, len(prompts), o.prompts_per_step, o.seed))
    short = [prompts[i] for i in used if len(by_prompt.get(prompts[i].prompt_id, [])) < need]
    if short:
        have = len(by_prompt.get(short[0].prompt_id, []))
        problems.append(
            f"models.explorer_rollouts: {len(short)} prompts have fewer than {need} explorer responses in {path} "
            f"(of {len(used)} prompts the explorer steps use; e.g. prompt {short[0].prompt_id} has {have}); "
            f"sample them with `s2lpo sample` (n >= {need}) or lower rollout.group_size"
        )
    other_template = [
        p for i in used if (p := prompts[i]).prompt_id in by_prompt
        and list(by_prompt[p.prompt_id][0].prompt_token_ids) != p.token_ids
    ]
    if other_template:
        problems.append(
            f"data.prompt: {len(other_template)} prompts of {path} were rendered differently from this recipe's "
            "data.prompt (instruction, system or enable_thinking); sample with the same recipe"
        )
    return by_prompt


def _check_run_dir(recipe: Recipe, problems: list[str]) -> tuple[Path | None, bool]:
    """(checkpoint to resume from, whether the run is already complete)."""
    folder = RunFolder(Path(recipe.output.run_dir))
    run_dir = folder.root
    if not run_dir.exists():
        return None, False
    saved = folder.recipe_path
    if not saved.is_file():
        if any(run_dir.iterdir()):
            problems.append(f"output.run_dir: {run_dir} exists and is not a run folder; choose another output.run_dir")
        return None, False
    if saved.read_text(encoding="utf-8") != to_yaml(recipe):
        problems.append(f"output.run_dir: {run_dir} holds a run of another recipe ({saved} differs); choose another "
                        "output.run_dir, or delete the folder to start over")
        return None, False
    latest = latest_checkpoint(run_dir)
    return latest, folder.final.is_dir() and latest == folder.checkpoint(recipe.schedule.total_steps)


def preflight(recipe: Recipe) -> Preflight:
    """Every check, before any work or write. Raises one UserError listing all problems."""
    from s2lpo_cli.data.train_sets import load_train_set
    from s2lpo_cli.engines.loading import load_tokenizer

    problems: list[str] = []
    tokenizer = load_tokenizer(recipe.models.target)
    d = recipe.data
    rows = load_train_set(d.train, data_dir=d.data_dir, limit=d.limit)
    prompts = render_prompts(recipe, tokenizer, rows, problems)
    explorer = _check_store(recipe, tokenizer, prompts, problems)
    unsupported = [name for name in recipe.output.logger if name not in ("console", "jsonl")]
    if unsupported:
        problems.append(f"output.logger: {', '.join(unsupported)} is only available with engine.kind verl; the "
                        "embedded trainer writes metrics.jsonl and the console (use console, jsonl)")
    resume_from, complete = _check_run_dir(recipe, problems)
    if problems:
        raise UserError(f"cannot train {recipe.name}:\n" + "\n".join(problems))
    return Preflight(tokenizer, prompts, explorer, resume_from, complete)


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
    import torch
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
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("engine.device: cuda was asked for but no GPU is visible; use auto or cpu")
    steps = step_plan(recipe)
    with TrainerRegistry() as registry:
        return _train(recipe, pre, device, steps, registry)


def _train(recipe: Recipe, pre: Preflight, device: str, steps: list[Any], registry: Any) -> Path:
    from s2lpo_cli.console import err
    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.training.display import TrainingDisplay
    from s2lpo_cli.training.threads import apply_threads
    from s2lpo_cli.training.trainer import Trainer
    from s2lpo_cli.training.trainer_config import TrainerConfig

    apply_threads(registry)
    folder = _start_folder(recipe, device, resuming=pre.resume_from is not None)  # env.json records the thread count
    run_dir, metrics_path = folder.root, folder.metrics_path

    model = _load_policy(str(pre.resume_from or recipe.models.target), device)
    ref = None
    if recipe.optim.kl.enabled:
        ref = _load_policy(recipe.models.target, device).eval().requires_grad_(False)
    done = 0
    with Grader() as grader:
        trainer = Trainer(TrainerConfig.from_recipe(recipe), model, pre.tokenizer, pre.prompts, grader,
                          explorer=pre.explorer, ref_model=ref)
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
    final = folder.final
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, pre.tokenizer, tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    err.print(f"[green]done[/]: {len(steps)} optimizer steps; metrics {metrics_path}, model {final}")
    return run_dir
