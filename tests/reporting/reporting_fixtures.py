"""Small run folders written per the documented contracts (metrics.jsonl, recipe.yaml, the eval layout)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

from s2lpo_cli.schedule import plan


def write_training_run(
    folder: Path,
    *,
    total_steps: int = 6,
    anneal_steps: int = 3,
    group_size: int = 8,
    mode: str = "mixed",
    steps_done: int | None = None,
    final: bool = True,
    reward_at=lambda step: 0.1 * step,
) -> Path:
    """A run of `steps_done` logical steps (default all) with rewards reward_at(step)."""
    folder.mkdir(parents=True, exist_ok=True)
    recipe = {
        "name": folder.name,
        "models": {"target": "tiny_models/target", "explorer": "tiny_models/explorer" if anneal_steps else None},
        "data": {"train": "synthetic"},
        "rollout": {"group_size": group_size},
        "schedule": {"anneal_steps": anneal_steps, "total_steps": total_steps, "mode": mode},
        "output": {"run_dir": str(folder)},
    }
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    lines = []
    for p in plan(total_steps, anneal_steps, group_size, mode)[: steps_done or total_steps]:
        for ph in p.physical:
            r = reward_at(p.step)
            lines.append({
                "step": p.step, "phase": ph.phase, "alpha": p.alpha, "g_w": ph.explorer, "g_s": ph.target,
                "reward_mean": r, "reward_explorer": r + 0.2 if ph.explorer else None,
                "reward_target": r - 0.1 if ph.target else None, "accuracy": r, "adv_mean": 0.0, "adv_std": 1.0,
                "zero_var_frac": 0.25, "clip_frac": 0.0, "kl": 0.001 * p.step, "entropy": 2.0 - 0.1 * p.step,
                "iw_mean": 1.0, "iw_max": 1.0, "response_len": 20.0 + p.step, "target_tokens": 10 * ph.target,
                "tokens_per_s": 100.0, "step_time_s": 1.5, "loss": 0.1, "grad_norm": 1.0, "lr": 5e-5,
            })
    (folder / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if final:
        (folder / "final").mkdir(exist_ok=True)
    return folder


def bench_entry(n: int, correct_frac: float, k: int = 4) -> dict:
    pass_at = {str(j): min(1.0, correct_frac * (1 + math.log2(j) / 2)) for j in (1, 2, 4, 8, 16) if j <= k}
    return {"n_questions": n, "k": k, "pass@1": correct_frac, "pass@k": pass_at, "accuracy": correct_frac,
            "mean_length": 25.0, "truncated_rate": 0.0, "timeouts": 0}


def write_eval(folder: Path, model: str, benchmarks: dict[str, dict], *, stamp: str = "20261128_120000",
               summary: bool = True, started: tuple[str, ...] = (), requested: tuple[str, ...] = ()) -> Path:
    """`s2lpo eval --output folder`: a result/<model>_<stamp>/ with one <bench>.json each (+ summary.json),
    output/<model>_<stamp>/config.txt asking for them all (+ `started` and `requested` ones without results)."""
    result = folder / "result" / f"{model}_{stamp}"
    output = folder / "output" / f"{model}_{stamp}"
    result.mkdir(parents=True, exist_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    for name, entry in benchmarks.items():
        (result / f"{name}.json").write_text(json.dumps(entry))
        (output / f"{name}_raw.jsonl").write_text("{}\n")
    for name in started:
        (output / f"{name}_raw.jsonl").write_text("{}\n")
    asked = dict.fromkeys([*benchmarks, *started, *requested])
    (output / "config.txt").write_text(json.dumps({"settings": {"model": model, "benchmarks": asked}}))
    if summary:
        doc = {"model": model, "mode": "nothink", "k": 4, "sampling": {"temperature": 0.6}, "benchmarks": benchmarks}
        (result / "summary.json").write_text(json.dumps(doc))
    return folder
