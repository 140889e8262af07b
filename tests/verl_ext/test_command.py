"""The verl command: composes against verl's own Hydra config for every shipped recipe and holds its values."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from s2lpo_cli.recipe import load_recipe, shipped_recipes
from s2lpo_cli.schedule import step_plan
from s2lpo_cli.verl_ext.command import (
    AGENT_NAME,
    REWARD_MODULE,
    SAMPLER_CLASS,
    SAMPLER_MODULE,
    VerlPaths,
    agent_loop_config,
    hydra_value,
    refused_overrides,
    verl_command,
    verl_overrides,
)

from .conftest import compose_verl

pytestmark = pytest.mark.verl
SNAPSHOTS = Path(__file__).parent / "snapshots"
PATHS = VerlPaths(Path("/RUN/verl"))


def _recipe(name: str):
    # tiny.yaml is the embedded default; on verl it runs on one GPU
    extra = ["engine.kind=verl", "engine.gpus_per_node=1", "engine.tensor_parallel_size=1"] if name == "tiny" else []
    return load_recipe(name, extra)


@pytest.mark.parametrize("name", shipped_recipes())
def test_overrides_compose_and_hold_the_recipe(name):
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    recipe = _recipe(name)
    cfg = compose_verl(verl_overrides(recipe, PATHS))
    validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    actor, rollout = cfg.actor_rollout_ref.actor, cfg.actor_rollout_ref.rollout
    o, r = recipe.optim, recipe.rollout
    assert rollout.n == r.group_size
    assert actor.optim.lr == o.lr
    assert cfg.data.train_batch_size == o.prompts_per_step
    assert actor.ppo_mini_batch_size == o.mini_batch and actor.ppo_micro_batch_size_per_gpu == o.micro_batch
    assert actor.use_kl_loss == o.kl.enabled and actor.kl_loss_coef == o.kl.coef and actor.kl_loss_type == o.kl.type
    assert (actor.clip_ratio_low, actor.clip_ratio_high) == (o.clip_ratio_low, o.clip_ratio_high)
    assert actor.entropy_coeff == o.entropy_coef and actor.loss_agg_mode == o.loss_agg
    assert rollout.temperature == r.temperature and rollout.top_p == r.top_p
    assert rollout.tensor_model_parallel_size == recipe.engine.tensor_parallel_size
    assert rollout.gpu_memory_utilization == recipe.engine.gpu_memory_utilization
    assert cfg.data.max_prompt_length == recipe.data.max_prompt_tokens
    assert cfg.data.max_response_length == r.max_response_tokens
    assert cfg.data.apply_chat_template_kwargs.enable_thinking == recipe.data.prompt.enable_thinking
    assert cfg.actor_rollout_ref.model.path == recipe.models.target
    assert cfg.algorithm.adv_estimator == "grpo"
    assert cfg.algorithm.norm_adv_by_std_in_grpo == o.norm_adv_by_std
    assert cfg.reward.custom_reward_function.path == REWARD_MODULE
    assert rollout.agent.agent_loop_config_path == str(PATHS.agent_loop_config)
    assert cfg.trainer.total_training_steps == len(step_plan(recipe))
    assert cfg.trainer.n_gpus_per_node * cfg.trainer.nnodes == recipe.engine.gpus_per_node * recipe.engine.nodes
    assert cfg.trainer.default_local_dir == str(PATHS.checkpoints)
    assert cfg.trainer.use_v1 is True and cfg.data.shuffle is False


def test_raw_overrides_come_last_and_win():
    recipe = load_recipe("4b_8b", ["engine.overrides={actor_rollout_ref.rollout.n: 4, trainer.logger: [console]}"])
    overrides = verl_overrides(recipe, PATHS)
    assert overrides[-2:] == ["actor_rollout_ref.rollout.n=4", "trainer.logger=[console]"]
    cfg = compose_verl(overrides)
    assert cfg.actor_rollout_ref.rollout.n == 4 and list(cfg.trainer.logger) == ["console"]


def test_truncated_is_maps_to_verl_rollout_correction():
    recipe = load_recipe("4b_8b", ["off_policy.correction=truncated_is", "off_policy.is_threshold=3.0"])
    cfg = compose_verl(verl_overrides(recipe, PATHS))
    assert cfg.algorithm.rollout_correction.rollout_is == "token"
    assert cfg.algorithm.rollout_correction.rollout_is_threshold == 3.0


def test_split_mode_runs_one_global_step_per_physical_step():
    mixed, split = load_recipe("4b_8b"), load_recipe("4b_8b", ["schedule.mode=split"])
    assert len(step_plan(mixed)) == 16
    # steps 1..7 have explorer and target phases except t=1 (alpha=1: no target step); 8..16 target only
    assert len(step_plan(split)) == 1 + 6 * 2 + 9


def test_hydra_values_are_quoted_when_needed():
    assert hydra_value(True) == "true" and hydra_value(None) == "null" and hydra_value(1e-06) == "1e-06"
    assert hydra_value("pkg://s2lpo_cli.verl_ext.reward") == "pkg://s2lpo_cli.verl_ext.reward"
    assert hydra_value("a b'c") == "'a b\\'c'"
    assert hydra_value("/a/b-c/train.parquet") == "/a/b-c/train.parquet"
    assert hydra_value(["console", "file"]) == "[console,file]"


def test_agent_loop_config_names_the_loop_and_its_schedule():
    recipe = load_recipe("4b_8b")
    (entry,) = agent_loop_config(recipe, PATHS)
    assert entry["name"] == AGENT_NAME and entry["_target_"].endswith("agent_loop.ExplorerMixAgentLoop")
    assert (entry["group_size"], entry["anneal_steps"], entry["total_steps"], entry["mode"]) == (16, 8, 16, "mixed")


@pytest.mark.parametrize("name", ["4b_8b", "1.7b_8b"])
def test_command_snapshot(name):
    """The GPU commands, byte for byte (1.7b_8b's was first written by the code before CPU mode existed, e5cad3d,
    and matched it; validation during training then added its overrides)."""
    snapshot = SNAPSHOTS / f"{name}_command.txt"
    command = shlex.join(verl_command(load_recipe(name), PATHS, python="python")).replace(" ", "\n") + "\n"
    if os.environ.get("S2LPO_UPDATE_SNAPSHOTS"):
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(command)
    assert command == snapshot.read_text(), "command changed; rerun with S2LPO_UPDATE_SNAPSHOTS=1 if intended"


@pytest.mark.parametrize("override", [
    "{trainer.v1.trainer_mode: colocate_async}",
    "{algorithm.filter_groups.enable: true}",
    "{algorithm.filter_groups: {enable: true, metric: acc}}",
    "{++trainer.v1.sampler.sync_refill_failed_groups: true}",
    "{trainer.v1.sampler.custom_sampler.path: pkg://mine}",
])
def test_overrides_that_break_row_to_step_alignment_are_refused(override, tmp_path):
    from s2lpo_cli.errors import UserError
    from s2lpo_cli.verl_ext.launch import dry_run

    recipe = load_recipe("4b_8b", [f"engine.overrides={override}", f"output.run_dir={tmp_path}"])
    assert len(refused_overrides(recipe.engine.overrides)) == 1
    with pytest.raises(UserError, match="engine.overrides: .* is refused: "):
        dry_run(recipe)


def test_harmless_values_of_guarded_overrides_pass():
    recipe = load_recipe("4b_8b", ["engine.overrides={trainer.v1.trainer_mode: sync, algorithm.filter_groups.enable: false}"])
    assert refused_overrides(recipe.engine.overrides) == []
    cfg = compose_verl(verl_overrides(recipe, PATHS))
    assert cfg.trainer.v1.trainer_mode == "sync" and cfg.trainer.v1.sampler.custom_sampler.name == SAMPLER_CLASS


def test_sampler_gets_the_schedule_the_agent_loop_gets():
    recipe = load_recipe("4b_8b", ["schedule.mode=split"])
    cfg = compose_verl(verl_overrides(recipe, PATHS))
    (entry,) = agent_loop_config(recipe, PATHS)
    assert dict(cfg.trainer.v1.sampler.sampler_kwargs) == {k: entry[k] for k in cfg.trainer.v1.sampler.sampler_kwargs}
    assert cfg.trainer.v1.sampler.custom_sampler.path == SAMPLER_MODULE


@pytest.mark.parametrize("name", ["1.7b_8b", "4b_8b", "4b_14b", "grpo_8b"])
def test_cpu_mode_leaves_gpu_commands_alone(name):
    """No CPU-mode override or environment reaches a GPU recipe's command; the same recipe on CPU gets them all."""
    from s2lpo_cli.verl_ext.command import verl_env
    from s2lpo_cli.verl_ext.cpu.settings import cpu_overrides

    recipe = load_recipe(name)
    workers = recipe.engine.nodes * recipe.engine.gpus_per_node
    cpu = {f"{key}={hydra_value(value)}" for key, value in cpu_overrides(workers=workers)}
    assert not cpu & set(verl_overrides(recipe, PATHS)) and verl_env(recipe) == {}
    on_cpu = recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"device": "cpu"})})
    assert cpu <= set(verl_overrides(on_cpu, PATHS))
    assert "actor_rollout_ref.rollout.name=s2lpo_embedded" in verl_overrides(on_cpu, PATHS)


def test_cpu_recipe_composes_verls_cpu_settings():
    """tiny_verl (engine.device cpu, 1 worker) against verl's defaults (cuda, 8 workers each, bf16 FSDP, fsdp):
    every process on the CPU with one thread, float32 without torch.compile, SDPA attention, and the environment
    (the platform and the rollout registered by s2lpo's modules, in that order) in every Ray worker."""
    from s2lpo_cli.verl_ext.command import verl_env

    recipe = load_recipe("tiny_verl")
    cfg = compose_verl(verl_overrides(recipe, PATHS))
    env = {"VERL_USE_EXTERNAL_MODULES": "s2lpo_cli.verl_ext.cpu.platform,s2lpo_cli.verl_ext.cpu.mode",
           "VERL_PLATFORM": "cpu", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "RAY_DEDUP_LOGS": "0"}
    assert verl_env(recipe) == env
    assert cfg.trainer.device == "cpu"
    ray_init = cfg.ray_kwargs.ray_init
    assert (ray_init.num_gpus, ray_init.num_cpus) == (1, 32)
    assert dict(ray_init.runtime_env.env_vars) == {**env, "VERL_FILE_LOGGER_PATH": str(PATHS.metrics)}
    a = cfg.actor_rollout_ref
    assert (a.rollout.name, a.rollout.agent.num_workers, cfg.reward.num_workers) == ("s2lpo_embedded", 1, 1)
    assert cfg.data.dataloader_num_workers == 0
    assert cfg.transfer_queue.backend.SimpleStorage.num_data_storage_units == 1
    assert dict(a.model.override_config) == {"attn_implementation": "sdpa"}
    assert (a.actor.strategy, a.ref.strategy, a.actor.use_torch_compile) == ("fsdp2", "fsdp2", False)
    for role in (a.actor, a.ref):
        assert (role.fsdp_config.dtype, role.fsdp_config.use_torch_compile) == ("float32", False)
        assert dict(role.fsdp_config.mixed_precision) == {"param_dtype": "fp32", "reduce_dtype": "fp32",
                                                          "buffer_dtype": "fp32"}


def test_cpu_env_threads():
    from s2lpo_cli.verl_ext.cpu.settings import cpu_env

    assert (cpu_env(3)["OMP_NUM_THREADS"], cpu_env(3)["MKL_NUM_THREADS"]) == ("3", "3")
