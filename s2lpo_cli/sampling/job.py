"""What one `s2lpo sample` run does: the explorer, the prompts, the sampling, where the store goes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.errors import UserError
from s2lpo_cli.prompting import DEFAULT_INSTRUCTION

# Prompts per shard, by engine: each `ray` shard is one Ray Data job, which starts its engine replicas.
SHARD_PROMPTS = {"embedded": 64, "vllm": 256, "ray": 2048}


@dataclass(frozen=True)
class SampleJob:
    explorer: str
    dataset: str
    output: Path
    params: SamplingParams  # n = responses per prompt; params.seed unused (per-prompt seeds come from `seed`)
    seed: int = 0
    instruction: str = DEFAULT_INSTRUCTION
    system: str | None = None
    data_dir: str | None = None
    limit: int | None = None
    max_prompt_tokens: int | None = None
    skip_long_prompts: bool = False  # leave out prompts over max_prompt_tokens instead of refusing the run
    engine: str = "embedded"
    ray_backend: str = "auto"  # ray: auto, vllm or embedded (engines/ray_engine.py)
    device: str = "auto"
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    vllm_dtype: str | None = None  # vllm: None = the device's default (float32 on CPU)
    kv_cache_gib: float | None = None  # vllm (and ray with vLLM): None = the device's default (see engines/vllm_settings.py)
    shard_prompts: int = SHARD_PROMPTS["embedded"]
    force: bool = False


def default_output(explorer: str, dataset: str) -> Path:
    """rollouts/<explorer folder or hub name>_<dataset name or file stem>."""
    return Path("rollouts") / f"{Path(explorer.rstrip('/')).name}_{Path(dataset).stem}"


def build_job(
    explorer: str,
    recipe: Any | None = None,
    *,
    dataset: str | None = None,
    output: str | None = None,
    n: int | None = None,
    engine: str | None = None,
    limit: int | None = None,
    seed: int | None = None,
    shard_prompts: int | None = None,
    **rest: Any,
) -> SampleJob:
    """Command-line values over the recipe's (data.train, models.explorer_rollouts, G, rollout.*, data.prompt)."""
    from s2lpo_cli.recipe import DataConfig, EngineConfig, OptimConfig, PromptConfig, RolloutConfig

    rollout = recipe.rollout if recipe else RolloutConfig()
    prompt = recipe.data.prompt if recipe else PromptConfig()
    engine_cfg = recipe.engine if recipe else EngineConfig()
    dataset = dataset or (recipe.data.train if recipe else None)
    if dataset is None:
        from s2lpo_cli.data.train_sets import registered

        raise UserError(f"no dataset: pass --dataset NAME_OR_PATH ({', '.join(sorted(registered()))}, or a "
                        "jsonl/parquet file) or --recipe")
    output = (
        output
        or (recipe.models.explorer_rollouts if recipe else None)
        or str(default_output(explorer, dataset))
    )
    engine = engine or ("vllm" if engine_cfg.kind == "verl" and engine_cfg.device != "cpu" else "embedded")
    n = n if n is not None else rollout.group_size
    if n < 1:
        raise UserError(f"--n: is {n}; sample at least 1 response per prompt")
    params = rollout.sampling_params(n, enable_thinking=prompt.enable_thinking)
    return SampleJob(
        explorer=explorer,
        dataset=dataset,
        output=Path(output),
        params=params,
        seed=seed if seed is not None else (recipe.optim.seed if recipe else OptimConfig().seed),
        instruction=prompt.instruction,
        system=prompt.system,
        data_dir=recipe.data.data_dir if recipe else None,
        limit=limit if limit is not None else (recipe.data.limit if recipe else None),
        max_prompt_tokens=(recipe.data if recipe else DataConfig(train=dataset)).max_prompt_tokens,
        engine=engine,
        device=engine_cfg.device,
        tensor_parallel_size=engine_cfg.tensor_parallel_size,
        max_model_len=recipe.models.max_model_len if recipe else None,
        shard_prompts=shard_prompts or SHARD_PROMPTS.get(engine, SHARD_PROMPTS["embedded"]),
        **rest,
    )
