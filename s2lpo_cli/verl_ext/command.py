"""The verl job as data: a recipe (plus the files s2lpo writes for it) -> Hydra overrides -> the command.

Pure: no file is read or written and nothing is imported from verl, so `--dry-run` and the tests can
show exactly what would run. Every value is derived from the recipe; `engine.overrides` come last and win.
"""

from __future__ import annotations

import math
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.evaluation.validation import sampling
from s2lpo_cli.recipe import Recipe
from s2lpo_cli.schedule import step_plan

ENTRYPOINT = "verl.trainer.main_ppo"
REWARD_MODULE = "pkg://s2lpo_cli.verl_ext.reward"
REWARD_FUNCTION = "compute_score"
SAMPLER_MODULE = "pkg://s2lpo_cli.verl_ext.sampler"
SAMPLER_CLASS = "PlannedGroupReplayBuffer"
DEFAULT_REWARD_WORKERS = 8  # verl's reward.num_workers default
CPU_REWARD_WORKERS = 1
AGENT_NAME = "s2lpo_mix"  # the agent_name of training rows; validation rows use verl's single_turn_agent
PROJECT_NAME = "s2lpo"
_LOGGERS = {"console": "console", "jsonl": "file", "wandb": "wandb", "tensorboard": "tensorboard"}


@dataclass(frozen=True)
class VerlPaths:
    """Where the files verl reads and writes live: all under `<run_dir>/verl/`."""

    root: Path

    @classmethod
    def for_run(cls, run_dir: str | Path) -> VerlPaths:
        return cls(Path(run_dir).resolve() / "verl")

    @property
    def train_parquet(self) -> Path:
        return self.root / "train.parquet"

    @property
    def val_parquet(self) -> Path:
        return self.root / "val.parquet"

    @property
    def validation(self) -> Path:
        """verl's dump of validation generations: `<global step>.jsonl` (trainer.validation_data_dir)."""
        return self.root / "validation"

    @property
    def explorer_bank(self) -> Path:
        return self.root / "explorer_bank.parquet"

    @property
    def agent_loop_config(self) -> Path:
        return self.root / "agent_loops.yaml"

    @property
    def explorer_steps(self) -> Path:
        return self.root / "explorer_steps.json"

    @property
    def extension(self) -> Path:
        return self.root / "extension.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def log(self) -> Path:
        return self.root / "train.log"


def hydra_value(value: Any) -> str:
    """A Python value in Hydra's override grammar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    reads_as_number = re.fullmatch(r"[-+]?(\d[\d_]*)?\.?\d*([eE][-+]?\d+)?", text) is not None
    if re.fullmatch(r"[A-Za-z0-9_./:\-]+", text) and text not in ("true", "false", "null") and not reads_as_number:
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def checkpoint_steps(recipe: Recipe) -> dict[int, int]:
    """Logical step -> the verl global step that ends it, for every checkpoint the recipe asks for.

    `output.save_every` counts logical steps; the run's last step is always saved.
    """
    plan = step_plan(recipe)
    ends = {p.step: g for g, p in enumerate(plan, 1)}  # the last physical step of each logical step
    every = recipe.output.save_every
    return {t: g for t, g in ends.items() if (every and t % every == 0) or g == len(plan)}


def save_freq(recipe: Recipe) -> int | None:
    """verl's `trainer.save_freq` that saves exactly at `checkpoint_steps`, or None when none does.

    verl saves when `global_step % save_freq == 0` and at the last step. In split mode a logical step
    spans two global steps while annealing, so most `save_every` values have no such frequency.
    """
    steps = len(step_plan(recipe))
    wanted = sorted(checkpoint_steps(recipe).values())
    freq = wanted[0] if len(wanted) > 1 else steps
    saved = {g for g in range(freq, steps + 1, freq)} | {steps}
    return freq if saved == set(wanted) else None


def save_every_problem(recipe: Recipe) -> str | None:
    """Why verl cannot save the checkpoints `output.save_every` asks for (split mode), with values that work.

    The message leaves out the field's name: the preflight's finding carries it."""
    if save_freq(recipe) is not None:
        return None
    wanted = checkpoint_steps(recipe)
    working = [e for e in range(1, recipe.schedule.total_steps)
               if save_freq(recipe.model_copy(update={"output": recipe.output.model_copy(update={"save_every": e})}))]

    def first(values) -> str:
        values = list(values)
        return ", ".join(map(str, values[:4])) + (", ..." if len(values) > 4 else "")

    return (
        f"{recipe.output.save_every} asks for checkpoints after logical steps {first(wanted)}, "
        f"which end at verl global steps {first(wanted.values())} in split mode; verl saves every k-th global "
        "step and no k hits exactly those. Use save_every 0 (the final checkpoint only)"
        + (f" or one of {first(working)}" if working else "")
    )


def on_cpu(recipe: Recipe) -> bool:
    """verl's trainer on this machine's CPU (`engine.device: cpu`, see `s2lpo_cli.verl_ext.cpu`)."""
    return recipe.engine.device == "cpu"


def reward_workers(recipe: Recipe) -> int:
    """verl's `reward.num_workers` (its default unless engine.overrides sets it), placed round-robin over the nodes."""
    default = CPU_REWARD_WORKERS if on_cpu(recipe) else DEFAULT_REWARD_WORKERS
    return int(recipe.engine.overrides.get("reward.num_workers", default))


def validation_overrides(recipe: Recipe, paths: VerlPaths) -> list[tuple[str, Any]]:
    """verl's validation: `test_freq` every `validation.every` global steps (and at the last), before training when
    asked, the eval mode's sampling as `val_kwargs` (verl's have no presence penalty), generations dumped."""
    v = recipe.validation
    if not v.enabled:
        return [("trainer.test_freq", -1), ("trainer.val_before_train", False)]
    settings = sampling(v, recipe.rollout.max_response_tokens)
    return [
        ("trainer.test_freq", v.every),
        ("trainer.val_before_train", v.before_train),
        ("trainer.validation_data_dir", str(paths.validation)),
        ("actor_rollout_ref.rollout.val_kwargs.n", v.k),
        ("actor_rollout_ref.rollout.val_kwargs.do_sample", settings["temperature"] > 0),
        ("actor_rollout_ref.rollout.val_kwargs.temperature", settings["temperature"]),
        ("actor_rollout_ref.rollout.val_kwargs.top_p", settings["top_p"]),
        ("actor_rollout_ref.rollout.val_kwargs.top_k", settings["top_k"]),
    ]


def verl_overrides(recipe: Recipe, paths: VerlPaths) -> list[str]:
    """Every Hydra override of the run, derived from the recipe; `engine.overrides` last."""
    r, o, e = recipe.rollout, recipe.optim, recipe.engine
    steps = len(step_plan(recipe))  # verl's global steps: one per physical step
    micro = o.micro_batch
    loggers = list(dict.fromkeys([_LOGGERS[name] for name in recipe.output.logger] + ["file"]))
    pairs: list[tuple[str, Any]] = [
        # algorithm: GRPO over each prompt's group (uid), KL as a loss term, not in the reward
        ("algorithm.adv_estimator", "grpo"),
        ("algorithm.norm_adv_by_std_in_grpo", o.norm_adv_by_std),
        ("algorithm.use_kl_in_reward", False),
        # data: s2lpo lays the rows out in step order (draws of explorer responses depend on it)
        ("data.train_files", str(paths.train_parquet)),
        ("data.val_files", str(paths.val_parquet)),
        ("data.train_batch_size", o.prompts_per_step),
        ("data.max_prompt_length", recipe.data.max_prompt_tokens),
        ("data.max_response_length", r.max_response_tokens),
        ("data.shuffle", False),
        ("data.seed", o.seed),
        ("data.filter_overlong_prompts", False),
        ("data.truncation", "error"),
        ("++data.apply_chat_template_kwargs.enable_thinking", recipe.data.prompt.enable_thinking),
        # the target model and its optimizer
        ("actor_rollout_ref.model.path", recipe.models.target),
        ("actor_rollout_ref.actor.optim.lr", o.lr),
        ("actor_rollout_ref.actor.optim.weight_decay", o.weight_decay),
        ("actor_rollout_ref.actor.ppo_mini_batch_size", o.mini_batch),
        ("actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", micro),
        ("actor_rollout_ref.actor.ppo_epochs", o.epochs),
        ("actor_rollout_ref.actor.use_kl_loss", o.kl.enabled),
        ("actor_rollout_ref.actor.kl_loss_coef", o.kl.coef),
        ("actor_rollout_ref.actor.kl_loss_type", o.kl.type),
        ("actor_rollout_ref.actor.entropy_coeff", o.entropy_coef),
        ("actor_rollout_ref.actor.clip_ratio_low", o.clip_ratio_low),
        ("actor_rollout_ref.actor.clip_ratio_high", o.clip_ratio_high),
        ("actor_rollout_ref.actor.loss_agg_mode", o.loss_agg),
        ("actor_rollout_ref.actor.grad_clip", o.grad_clip),
        ("actor_rollout_ref.actor.data_loader_seed", o.seed),
        ("actor_rollout_ref.actor.checkpoint.save_contents", ["model", "optimizer", "extra", "hf_model"]),
        ("actor_rollout_ref.actor.checkpoint.load_contents", ["model", "optimizer", "extra"]),
        ("actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", micro),
        # rollouts: vLLM, G per prompt; the agent loop serves the explorer's share of each group
        ("actor_rollout_ref.rollout.name", "vllm"),
        ("actor_rollout_ref.rollout.n", r.group_size),
        ("actor_rollout_ref.rollout.temperature", r.temperature),
        ("actor_rollout_ref.rollout.top_p", r.top_p),
        ("actor_rollout_ref.rollout.top_k", r.top_k),
        ("actor_rollout_ref.rollout.seed", o.seed),
        ("actor_rollout_ref.rollout.tensor_model_parallel_size", e.tensor_parallel_size),
        ("actor_rollout_ref.rollout.gpu_memory_utilization", e.gpu_memory_utilization),
        ("actor_rollout_ref.rollout.max_model_len", recipe.data.max_prompt_tokens + r.max_response_tokens),
        ("actor_rollout_ref.rollout.calculate_log_probs", True),
        ("actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu", micro),
        ("actor_rollout_ref.rollout.agent.agent_loop_config_path", str(paths.agent_loop_config)),
        # reward: the project's grader
        ("reward.custom_reward_function.path", REWARD_MODULE),
        ("reward.custom_reward_function.name", REWARD_FUNCTION),
        ("++reward.custom_reward_function.reward_kwargs",
         {"reward_workers_per_node": math.ceil(reward_workers(recipe) / e.nodes)}),
        # trainer: the V1 trainer (it hands session_id and global_steps to agent loops)
        ("trainer.use_v1", True),
        # sync: one global step's rows are generated and trained together (draws depend on it); the
        # sampler stops the run when a group is not what the schedule planned (sampler.py)
        ("trainer.v1.trainer_mode", "sync"),
        ("trainer.v1.sampler.custom_sampler.path", SAMPLER_MODULE),
        ("trainer.v1.sampler.custom_sampler.name", SAMPLER_CLASS),
        ("++trainer.v1.sampler.sampler_kwargs", schedule_kwargs(recipe)),
        ("trainer.nnodes", e.nodes),
        ("trainer.n_gpus_per_node", e.gpus_per_node),
        ("trainer.total_epochs", 1),
        ("trainer.total_training_steps", steps),
        ("trainer.save_freq", save_freq(recipe) or steps),  # launch refuses None
        *validation_overrides(recipe, paths),
        ("trainer.project_name", PROJECT_NAME),
        ("trainer.experiment_name", recipe.name),
        ("trainer.logger", loggers),
        ("trainer.default_local_dir", str(paths.checkpoints)),
        ("trainer.resume_mode", "auto"),
        ("hydra.run.dir", str(paths.root / "hydra")),
        ("++ray_kwargs.ray_init.runtime_env.env_vars.VERL_FILE_LOGGER_PATH", str(paths.metrics)),
    ]
    if recipe.off_policy.correction == "truncated_is":
        pairs += [
            ("algorithm.rollout_correction.rollout_is", "token"),
            ("algorithm.rollout_correction.rollout_is_threshold", recipe.off_policy.is_threshold),
        ]
    if on_cpu(recipe):
        from s2lpo_cli.verl_ext.cpu.settings import cpu_overrides

        cpu = dict(cpu_overrides(workers=e.nodes * e.gpus_per_node))
        pairs = [(key, cpu.pop(key, value)) for key, value in pairs] + list(cpu.items())
    overrides = [f"{key}={hydra_value(value)}" for key, value in pairs]
    overrides += [f"{key}={hydra_value(value)}" for key, value in e.overrides.items()]
    return overrides


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "on")


# engine.overrides that would break "row r is trained at its planned global step with its planned group"
REFUSED_OVERRIDES: dict[str, tuple[Any, str]] = {
    "trainer.v1.trainer_mode": (lambda v: str(v) != "sync", "the async trainers generate rows of later steps with "
                                "older weights and train them at other steps than planned; s2lpo runs verl in sync mode"),
    "algorithm.filter_groups.enable": (_truthy, "group filtering (DAPO) evicts groups and refills the step with later "
                                       "rows, whose explorer draws and G_w belong to another step"),
    "trainer.v1.sampler.sync_refill_failed_groups": (_truthy, "refilling a failed group pulls a later row into the "
                                                     "step; s2lpo stops the run on a failed group instead"),
    "trainer.v1.sampler.custom_sampler": (lambda v: True, "s2lpo's sampler is what stops a run on a failed or "
                                          "incomplete group (s2lpo_cli/verl_ext/sampler.py)"),
}


def _flatten(key: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flatten(f"{key}.{k}", v)]
    return [(key, value)]


def refused_overrides(overrides: dict[str, Any]) -> list[str]:
    """One message (without the field's name) per `engine.overrides` entry that would break row-to-step alignment."""
    problems = []
    for raw_key, raw_value in overrides.items():
        for key, value in _flatten(raw_key.lstrip("+~"), raw_value):
            for refused, (is_refused, why) in REFUSED_OVERRIDES.items():
                if (key == refused or key.startswith(refused + ".")) and is_refused(value):
                    problems.append(f"{raw_key}={hydra_value(raw_value)} is refused: {why}")
    return problems


def verl_env(recipe: Recipe) -> dict[str, str]:
    """Environment the verl command needs besides the caller's: CPU mode's (see `cpu.settings.cpu_env`)."""
    if not on_cpu(recipe):
        return {}
    from s2lpo_cli.verl_ext.cpu.settings import cpu_env

    return cpu_env()


def verl_command(recipe: Recipe, paths: VerlPaths, python: str | None = None) -> list[str]:
    """The full argv: `python -m verl.trainer.main_ppo OVERRIDE...`."""
    return [python or sys.executable, "-m", ENTRYPOINT, *verl_overrides(recipe, paths)]


def shell_script(argv: list[str], metrics: Path, env: dict[str, str] | None = None) -> str:
    """`command.sh`: `env` exported, then the command, one override per line; $PYTHON picks the interpreter
    (default: this one).

    verl's file logger truncates its file when it starts, so a resumed run first moves the last log aside.
    """
    log = shlex.quote(str(metrics))
    lines = [
        "#!/usr/bin/env bash",
        "# Written by `s2lpo train`; rerun it to resume (verl resumes from its last checkpoint).",
        "set -euo pipefail",
        *(f"export {key}={shlex.quote(value)}" for key, value in (env or {}).items()),
        f'PYTHON="${{PYTHON:-{argv[0]}}}"',
        f'if [ -s {log} ]; then mv {log} {shlex.quote(str(metrics.with_suffix("")))}.$(date +%Y%m%d%H%M%S).jsonl; fi',
        f'"$PYTHON" {" ".join(shlex.quote(a) for a in argv[1:3])} \\',
    ]
    lines += [f"    {shlex.quote(a)} \\" for a in argv[3:-1]]
    lines.append(f"    {shlex.quote(argv[-1])}")
    return "\n".join(lines) + "\n"


AGENT_LOOP_CLASS = "s2lpo_cli.verl_ext.agent_loop.ExplorerMixAgentLoop"


def schedule_kwargs(recipe: Recipe) -> dict[str, Any]:
    """What the agent loop and the sampler need to rebuild `step_plan(recipe)`."""
    s = recipe.schedule
    return {"group_size": recipe.rollout.group_size, "anneal_steps": s.anneal_steps, "total_steps": s.total_steps,
            "mode": s.mode}


def agent_loop_config(recipe: Recipe, paths: VerlPaths) -> list[dict[str, Any]]:
    """The YAML list verl's agent-loop registry loads: name, _target_, then the loop's keyword arguments."""
    return [
        {
            "name": AGENT_NAME,
            "_target_": AGENT_LOOP_CLASS,
            "explorer_bank": str(paths.explorer_bank),
            **schedule_kwargs(recipe),
            "presence_penalty": recipe.rollout.presence_penalty,
        }
    ]
