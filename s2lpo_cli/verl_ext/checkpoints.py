"""verl's outputs in the run layout `s2lpo eval` and `s2lpo report` read, as for embedded runs.

Checkpoints: verl writes `<run>/verl/checkpoints/global_step_N/actor/` (FSDP shards) and, with
`hf_model` in `actor.checkpoint.save_contents` (s2lpo sets it), a full HF model in
`actor/huggingface/`. `<run>/checkpoints/step_NNNN` (logical step) and `<run>/final` become links to
those folders; a checkpoint without HF weights is merged with `python -m verl.model_merger merge`.

Metrics: verl's file logger writes `{"step": N, "data": {...}}` per global step to
`<run>/verl/metrics.jsonl`; each line becomes one line of `<run>/metrics.jsonl` in the project's keys.
verl logs one score and one response length over the whole step; with the launch's per-step record
of the replayed explorer responses (`explorer_steps.json`: count, tokens, stored reward) they split
into reward_explorer and reward_target. target_tokens and tokens_per_s come from the target's rows
only, as the sampler counted them (`s2lpo/target_response_tokens`, see sampler.py): verl's
`perf/throughput` and `rollout_corr/*` mix replayed explorer rows with generated ones, so they are
not used. adv_std, zero_var_frac, iw_mean and iw_max are null (verl logs no per-source equivalent), and
so is nonzero_adv_frac_by_family (verl logs no per-group statistic, let alone one per prompt family).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.run_folder import RunFolder
from s2lpo_cli.schedule import step_plan
from s2lpo_cli.training.metrics import VERL_METRIC_SOURCES
from s2lpo_cli.verl_ext.command import VerlPaths
from s2lpo_cli.verl_ext.logs import log_entries
from s2lpo_cli.verl_ext.validation import convert_validation, is_validation_only

# the embedded trainer's update phase covers verl's old log-probs, reference log-probs and actor update
UPDATE_TIMERS = ("timing_s/old_log_prob", "timing_s/ref", "timing_s/update_actor")
# verl's rollout_corr/rollout_is_* weight explorer and target rows alike: not the embedded iw_* (explorer rows)
UNMEASURED = ("adv_std", "zero_var_frac", "nonzero_adv_frac_by_family", "iw_mean", "iw_max")
TARGET_TOKENS = "s2lpo/target_response_tokens"  # logged by the sampler from the target rows' tags


def split_by_source(record: dict[str, Any], explorer: dict | None, prompts: int) -> dict[str, Any]:
    """reward_explorer, reward_target, target_tokens from the step's totals minus its explorer share."""
    g_w, g_s = record["g_w"], record["g_s"]
    total = prompts * (g_w + g_s)
    mean, length = record["reward_mean"], record["response_len"]
    out: dict[str, Any] = {"reward_explorer": None, "reward_target": None, "target_tokens": None}
    if g_w == 0:
        out["reward_target"] = mean
        out["target_tokens"] = round(length * total) if length is not None else None
        return out
    if g_s == 0:
        out["reward_explorer"], out["target_tokens"] = mean, 0
        return out
    if explorer is None or explorer["count"] != prompts * g_w:
        return out
    if explorer["reward_sum"] is not None:
        out["reward_explorer"] = explorer["reward_sum"] / explorer["count"]
        if mean is not None:
            out["reward_target"] = (mean * total - explorer["reward_sum"]) / (prompts * g_s)
    if length is not None:
        out["target_tokens"] = round(length * total - explorer["tokens"])
    return out


def map_metrics(verl_line: dict[str, Any], recipe: Recipe, explorer: dict | None = None) -> dict[str, Any]:
    """One verl log line (and that step's explorer record) -> one metrics.jsonl record of the project's schema."""
    plan = step_plan(recipe)
    global_step = int(verl_line["step"])
    phys = plan[global_step - 1]
    s = recipe.schedule
    from s2lpo_cli.schedule import plan_step

    logical = plan_step(phys.step, s.anneal_steps, recipe.rollout.group_size, s.mode)
    data = verl_line["data"]  # convert_metrics passes only lines with data
    record: dict[str, Any] = {
        "step": phys.step,
        "phase": phys.phase,
        "alpha": logical.alpha,
        "g_w": phys.explorer,
        "g_s": phys.target,
        "verl_global_step": global_step,
    }
    for key, sources in VERL_METRIC_SOURCES.items():
        record[key] = next((float(data[name]) for name in sources if data.get(name) is not None), None)
    update = [float(data[name]) for name in UPDATE_TIMERS if data.get(name) is not None]
    record["time_update_s"] = sum(update) if update else None
    for key in UNMEASURED:
        record[key] = None
    record.update(split_by_source(record, explorer, recipe.optim.prompts_per_step))
    if data.get(TARGET_TOKENS) is not None:
        record["target_tokens"] = int(data[TARGET_TOKENS])
    tokens, seconds = record["target_tokens"], record["step_time_s"]
    record["tokens_per_s"] = tokens / seconds if tokens is not None and seconds else None
    return record


def convert_metrics(run_dir: str | Path, recipe: Recipe) -> int:
    """Rewrite `<run>/metrics.jsonl` from verl's logs (atomic); returns the number of steps.

    A resumed run leaves one log per attempt (`metrics.<time>.jsonl`, then `metrics.jsonl`); for a
    global step logged twice the later attempt wins.
    """
    paths = VerlPaths.for_run(run_dir)
    explorer = json.loads(paths.explorer_steps.read_text()) if paths.explorer_steps.is_file() else {}
    by_step: dict[int, dict[str, Any]] = {}
    for entry in log_entries(paths):
        # a validation-only line (where a resumed run starts) is val.jsonl's (verl_ext.validation), not a step
        if entry.get("data") and not is_validation_only(entry["data"]) and 1 <= int(entry["step"]) <= len(step_plan(recipe)):
            by_step[int(entry["step"])] = map_metrics(entry, recipe, explorer.get(str(entry["step"])))
    if not by_step:
        return 0
    records = [by_step[g] for g in sorted(by_step)]
    out = RunFolder(run_dir).metrics_path
    write_text_atomic(out, "".join(json.dumps(r) + "\n" for r in records))
    return len(records)


def verl_checkpoints(paths: VerlPaths) -> dict[int, Path]:
    """global step -> its actor folder."""
    found = {}
    if paths.checkpoints.is_dir():
        for child in paths.checkpoints.iterdir():
            m = re.fullmatch(r"global_step_(\d+)", child.name)
            if m and (child / "actor").is_dir():
                found[int(m.group(1))] = child / "actor"
    return dict(sorted(found.items()))


def has_hf_weights(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def merge_command(actor_dir: Path, target_dir: Path) -> list[str]:
    return [sys.executable, "-m", "verl.model_merger", "merge", "--backend", "fsdp",
            "--local_dir", str(actor_dir), "--target_dir", str(target_dir)]


def _link(link: Path, target: Path) -> None:
    if link.is_symlink() or link.exists():
        if link.is_symlink():
            link.unlink()
        else:
            return  # a real folder (e.g. a merged model) is kept
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, link.parent), link, target_is_directory=True)


def link_checkpoints(run_dir: str | Path, recipe: Recipe, merge: bool = True) -> dict[str, Path]:
    """Expose verl's checkpoints as `checkpoints/step_NNNN` and `final`; returns name -> HF folder.

    In split mode a logical step's checkpoint is the one after its last physical step.
    """
    folder = RunFolder(run_dir)
    paths = VerlPaths.for_run(run_dir)
    plan = step_plan(recipe)
    exposed: dict[str, Path] = {}
    for global_step, actor in verl_checkpoints(paths).items():
        phys = plan[global_step - 1]
        is_last_of_logical = global_step == len(plan) or plan[global_step].step != phys.step
        if not is_last_of_logical:
            continue
        hf = actor / "huggingface"
        checkpoint = folder.checkpoint(phys.step)
        if has_hf_weights(hf):
            _link(checkpoint, hf)
            exposed[checkpoint.name] = hf
        elif merge:
            subprocess.run(merge_command(actor, checkpoint), check=True)
            exposed[checkpoint.name] = checkpoint
    if exposed:
        last = exposed[max(exposed)]
        _link(folder.final, last)
        exposed[folder.final.name] = last
    return exposed


def main() -> None:
    """`python -m s2lpo_cli.verl_ext.checkpoints RUN_DIR`: the last step of a Ray job."""
    from s2lpo_cli.recipe import load_recipe

    run_dir = Path(sys.argv[1])
    recipe = load_recipe(RunFolder(run_dir).recipe_path)
    steps = convert_metrics(run_dir, recipe)
    convert_validation(run_dir, recipe)
    exposed = link_checkpoints(run_dir, recipe)
    print(f"{run_dir}: {steps} steps in metrics.jsonl; checkpoints: {', '.join(sorted(exposed)) or 'none'}")


if __name__ == "__main__":
    main()
