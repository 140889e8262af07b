"""What a CPU run of the verl engine adds to the verl command: overrides and environment. Pure.

One process per role, one torch thread each: on a small machine two torch processes with default
threads slow each other many times over. The target trains in float32 (verl's FSDP engine defaults to
bf16 weights and bf16 mixed precision, which `dtype` alone does not change), with PyTorch's SDPA
attention (the default is flash-attention 2, CUDA only) and without torch.compile.
"""

from __future__ import annotations

from typing import Any

# verl imports them in this order: the platform must be registered before verl's engine modules ask for it
MODULES = ("s2lpo_cli.verl_ext.cpu.platform", "s2lpo_cli.verl_ext.cpu.mode")
ROLLOUT_NAME = "s2lpo_embedded"  # the rollout `mode` registers (`rollout.EmbeddedReplica`)
RAY_LOGICAL_CPUS = 32
FP32 = {"param_dtype": "fp32", "reduce_dtype": "fp32", "buffer_dtype": "fp32"}


def cpu_env(threads: int = 1) -> dict[str, str]:
    """Environment of every verl process of a CPU run (the driver's, and Ray's runtime_env for the rest)."""
    return {
        "VERL_USE_EXTERNAL_MODULES": ",".join(MODULES),
        "VERL_PLATFORM": "cpu",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
        "RAY_DEDUP_LOGS": "0",
    }


def cpu_overrides(workers: int) -> list[tuple[str, Any]]:
    """(key, value) pairs for verl's Hydra config; `workers` is the number of training processes (logical GPUs)."""
    pairs: list[tuple[str, Any]] = [
        ("trainer.device", "cpu"),
        ("++ray_kwargs.ray_init.num_gpus", workers),
        # logical CPUs: verl's placement bundles ask for several CPUs per worker; the OS shares the real cores
        ("++ray_kwargs.ray_init.num_cpus", RAY_LOGICAL_CPUS),
        ("actor_rollout_ref.rollout.name", ROLLOUT_NAME),
        ("actor_rollout_ref.rollout.agent.num_workers", 1),
        ("reward.num_workers", 1),
        ("data.dataloader_num_workers", 0),
        ("transfer_queue.backend.SimpleStorage.num_data_storage_units", 1),
        ("++actor_rollout_ref.model.override_config.attn_implementation", "sdpa"),
        ("actor_rollout_ref.actor.strategy", "fsdp2"),
        ("actor_rollout_ref.ref.strategy", "fsdp2"),
        ("actor_rollout_ref.actor.use_torch_compile", False),
    ]
    for role in ("actor", "ref"):
        pairs += [
            (f"actor_rollout_ref.{role}.fsdp_config.dtype", "float32"),
            (f"actor_rollout_ref.{role}.fsdp_config.use_torch_compile", False),
            (f"++actor_rollout_ref.{role}.fsdp_config.mixed_precision", FP32),
        ]
    for key, value in cpu_env().items():
        pairs.append((f"++ray_kwargs.ray_init.runtime_env.env_vars.{key}", value))
    return pairs
