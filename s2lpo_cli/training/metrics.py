"""metrics.jsonl: one JSON object per physical optimizer step, with exactly the contract's keys.

Every value is a number, null, or a string, except `nonzero_adv_frac_by_family`: {family: share of that
family's groups with non-zero advantage}, null when the training rows carry no `family` field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import write_text_atomic

METRIC_KEYS = (
    "step", "phase", "alpha", "g_w", "g_s",
    "reward_mean", "reward_explorer", "reward_target", "accuracy",
    "adv_mean", "adv_std", "zero_var_frac", "nonzero_adv_frac_by_family", "clip_frac", "kl", "entropy", "iw_mean", "iw_max",
    "response_len", "target_tokens", "tokens_per_s", "step_time_s",
    "time_generation_s", "time_grading_s", "time_update_s", "time_validation_s", "loss", "grad_norm", "lr",
)
# Where verl logs the same quantity: our key -> verl's metric names, first present wins. verl_ext/checkpoints.py
# maps verl's logs with it; the TensorBoard and wandb loggers write each value under the first name too.
VERL_METRIC_SOURCES: dict[str, tuple[str, ...]] = {
    "reward_mean": ("critic/score/mean",),
    "accuracy": ("critic/score/mean",),
    "adv_mean": ("critic/advantages/mean",),
    "clip_frac": ("actor/pg_clipfrac", "actor/actor/pg_clipfrac"),
    "kl": ("actor/kl_loss", "actor/actor/kl_loss"),
    "entropy": ("actor/entropy",),
    "response_len": ("response_length/mean",),
    "step_time_s": ("timing_s/step",),
    "time_generation_s": ("timing_s/gen",),
    "time_grading_s": ("timing_s/reward",),
    "time_validation_s": ("timing_s/testing",),
    "loss": ("actor/pg_loss", "actor/actor/pg_loss"),
    "grad_norm": ("actor/grad_norm", "actor/actor/grad_norm"),
    "lr": ("actor/lr", "actor/actor/lr"),
}
TIMING_KEYS = ("tokens_per_s", "step_time_s", "time_generation_s", "time_grading_s", "time_update_s",
               "time_validation_s")  # differ between otherwise identical runs


def ordered(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics in contract order; refuses missing or unknown keys (a bug, not a user error)."""
    if set(metrics) != set(METRIC_KEYS):
        raise KeyError(f"metrics keys differ from the contract: missing {set(METRIC_KEYS) - set(metrics)}, "
                       f"unknown {set(metrics) - set(METRIC_KEYS)}")
    return {k: metrics[k] for k in METRIC_KEYS}


def append(path: Path, metrics: dict[str, Any]) -> None:
    line = json.dumps(ordered(metrics)) + "\n"  # a record off the contract never touches the file
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def read(path: Path) -> list[dict[str, Any]]:
    """Complete lines only: a line cut by a kill is ignored."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def keep_first(path: Path, n: int) -> None:
    """Cut metrics.jsonl back to its first n lines (resume from a checkpoint taken after n steps)."""
    rows = read(path)[:n]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))
