"""The Ray engine: batch sampling with Ray Data, across the nodes of a Ray cluster.

Each prompt is rendered here with the model's own chat template (so `enable_thinking` applies) and exploded
into n rows of one completion each, row k seeded `seed + k` (the seeds vLLM would give the n children of one
request, and the seeds the embedded engine uses), because Ray's vLLM stage keeps only a request's first
output. The rows go through `ray.data.llm`'s vLLM processor (backend `vllm`: on GPUs, or vLLM's CPU build on
CPU workers, with the same CPU settings as the vllm engine) or through actors that each hold an embedded
engine (backend `embedded`); `auto` takes vLLM on a cluster with GPUs, else embedded. Both return the same
rows, regrouped per prompt here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from s2lpo_cli.engines.base import ChatMessages, Completion, PromptOutput, SamplingParams
from s2lpo_cli.engines.factory import RAY_BACKENDS, RayBackend
from s2lpo_cli.engines.vllm_engine import LOGPROBS_MODE, request_kwargs, sampled_logprob
from s2lpo_cli.engines.vllm_settings import VLLMSettings
from s2lpo_cli.extras import require
from s2lpo_cli.prompting import encode_prompt


def explode(
    prompt_token_ids: list[list[int]], params: SamplingParams, seeds: list[int]
) -> list[dict[str, Any]]:
    """One row per completion to draw: prompt k's i-th sample is seeded seeds[k] + i."""
    return [
        {"prompt_index": p, "sample_index": i, "prompt_token_ids": ids, "seed": seeds[p] + i}
        for p, ids in enumerate(prompt_token_ids)
        for i in range(params.n)
    ]


def regroup(prompt_token_ids: list[list[int]], rows: list[dict[str, Any]]) -> list[PromptOutput]:
    """Ray's output rows (any order) back into one PromptOutput per prompt, completions in sample order."""
    by_prompt: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_prompt[int(row["prompt_index"])].append(row)
    outputs = []
    for p, ids in enumerate(prompt_token_ids):
        done = sorted(by_prompt.get(p, []), key=lambda r: int(r["sample_index"]))
        completions = [
            Completion(
                text=str(r["text"]),
                token_ids=[int(t) for t in r["token_ids"]],
                logprobs=[float(x) for x in r["logprobs"]],
                finish_reason=str(r["finish_reason"]),  # type: ignore[arg-type]
            )
            for r in done
        ]
        outputs.append(PromptOutput(prompt_token_ids=list(ids), completions=completions))
    return outputs


class EmbeddedWorker:
    """A Ray Data actor holding one embedded engine; generates one completion per row of a batch."""

    def __init__(self, model: str, params: SamplingParams, device: str = "cpu"):
        from s2lpo_cli.engines.embedded import EmbeddedEngine

        self.engine = EmbeddedEngine.load(model, device=device)
        self.params = params.with_(n=1)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        prompts = [[int(t) for t in ids] for ids in batch["prompt_token_ids"]]
        seeds = [int(s) for s in batch["seed"]]
        outputs = self.engine.generate_from_ids(prompts, self.params, seeds=seeds)
        done = [o.completions[0] for o in outputs]
        return {
            "prompt_index": [int(p) for p in batch["prompt_index"]],
            "sample_index": [int(i) for i in batch["sample_index"]],
            "token_ids": [c.token_ids for c in done],
            "logprobs": [c.logprobs for c in done],
            "text": [c.text for c in done],
            "finish_reason": [c.finish_reason for c in done],
        }


def vllm_preprocess(params: SamplingParams):
    """The row -> vLLM request function of `ray.data.llm` (n=1, the row's own seed)."""

    def preprocess(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "prompt_index": row["prompt_index"],
            "sample_index": row["sample_index"],
            "tokenized_prompt": [int(t) for t in row["prompt_token_ids"]],
            "sampling_params": request_kwargs(params, int(row["seed"]), n=1),
        }

    return preprocess


def vllm_postprocess(stop_ids: set[int]):
    """The vLLM output row -> our output row; Ray's output has no finish reason, so it is derived:
    a completion ending in a stop token stopped, any other reached max_tokens (or the context)."""

    def postprocess(row: dict[str, Any]) -> dict[str, Any]:
        token_ids = [int(t) for t in row["generated_tokens"]]
        logprobs = [sampled_logprob(step, tok) for step, tok in zip(row["logprobs"], token_ids, strict=True)]
        return {
            "prompt_index": int(row["prompt_index"]),
            "sample_index": int(row["sample_index"]),
            "token_ids": token_ids,
            "logprobs": logprobs,
            "text": row["generated_text"],
            "finish_reason": "stop" if token_ids and token_ids[-1] in stop_ids else "length",
        }

    return postprocess


class RayEngine:
    """Samples on a Ray cluster (the one at RAY_ADDRESS, or a local one) with vLLM or embedded engines
    (`backend`, see the module's docstring). `workers` is the number of engine replicas; by default one per
    `tensor_parallel_size` GPUs of the cluster, or one per two CPUs on a cluster without GPUs. `dtype` and
    `kv_cache_gib` are vLLM's, with the vllm engine's defaults for the device (engines/vllm_settings.py)."""

    def __init__(
        self,
        model: str,
        *,
        backend: RayBackend = "auto",
        workers: int | None = None,
        batch_size: int = 64,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str | None = None,
        kv_cache_gib: float | None = None,
    ):
        from s2lpo_cli.engines.embedded import stop_token_ids
        from s2lpo_cli.engines.loading import load_tokenizer

        if backend not in RAY_BACKENDS:
            raise ValueError(f"backend {backend!r}: choose one of {', '.join(RAY_BACKENDS)}")
        self.ray = require("ray", "the ray engine")
        require("ray.data", "the ray engine")
        self.model = model
        self.backend = backend
        self.tokenizer = load_tokenizer(model)
        self.workers = workers
        self.batch_size = batch_size
        self.vllm_choices = {
            "dtype": dtype,
            "kv_cache_gib": kv_cache_gib,
            "gpu_memory_utilization": gpu_memory_utilization,
            "tensor_parallel_size": tensor_parallel_size,
            "max_model_len": max_model_len,
        }
        self.stop_ids = stop_token_ids(_generation_config(model), self.tokenizer)

    def encode(self, messages: ChatMessages, enable_thinking: bool) -> list[int]:
        return encode_prompt(self.tokenizer, messages, enable_thinking)

    def vllm_settings(self, gpus: bool) -> VLLMSettings:
        """The vLLM settings of the replicas, for GPU workers or CPU ones; CPU: the KV cache is checked
        against this machine's memory (the workers' is not known here)."""
        from s2lpo_cli.engines.vllm_settings import checked_settings

        return checked_settings(self.model, cuda=gpus, **self.vllm_choices)

    def generate(
        self, prompts: list[ChatMessages], params: SamplingParams, seeds: list[int] | None = None
    ) -> list[PromptOutput]:
        if not self.ray.is_initialized():
            self.ray.init()
        if seeds is None:
            seeds = [params.seed if params.seed is not None else 0] * len(prompts)
        ids = [self.encode(m, params.enable_thinking) for m in prompts]
        dataset = self.ray.data.from_items(explode(ids, params, seeds))
        resources = self.ray.cluster_resources()
        gpus = resources.get("GPU", 0) > 0
        replicas = self.workers or max(
            1,
            int(
                resources.get("GPU", 0) // self.vllm_choices["tensor_parallel_size"]
                if gpus
                else resources.get("CPU", 1) // 2
            ),
        )
        if self.backend == "vllm" or (self.backend == "auto" and gpus):
            # Checked here: Ray Data imports vLLM only in its workers, where a missing one fails the job late.
            require("vllm", "the ray engine's vLLM backend")
            dataset = self._through_vllm(dataset, params, self.processor_config(replicas, gpus))
        else:
            dataset = dataset.map_batches(
                EmbeddedWorker,
                fn_constructor_kwargs={"model": self.model, "params": params},
                batch_size=self.batch_size,
                compute=self.ray.data.ActorPoolStrategy(size=replicas),
                num_cpus=1,
            )
        return regroup(ids, dataset.take_all())

    def processor_config(self, replicas: int, gpus: bool = True) -> Any:
        """The `ray.data.llm` vLLM processor config: prompts arrive tokenized, vLLM detokenizes. Without
        GPUs each replica holds one CPU of the cluster and vLLM's CPU settings. No engine metrics: their
        exporter needs Ray Serve, which the `ray` extra does not install."""
        llm = require("ray.data.llm", "the ray engine with vLLM")
        cpu_only: dict[str, Any] = {}
        if not gpus:
            cpu_only = {
                "placement_group_config": {"bundles": [{"CPU": 1}]},
                # vLLM would pin the replica to one core of a node that other Ray tasks share.
                "runtime_env": {"env_vars": {"VLLM_CPU_OMP_THREADS_BIND": "nobind"}},
            }
        return llm.vLLMEngineProcessorConfig(
            model_source=self.model,
            engine_kwargs={**self.vllm_settings(gpus).engine_kwargs(), "logprobs_mode": LOGPROBS_MODE},
            batch_size=self.batch_size,
            concurrency=replicas,
            chat_template_stage=False,  # prompts are rendered here (its stage takes no enable_thinking)
            tokenize_stage=False,
            detokenize_stage=False,
            log_engine_metrics=False,
            **cpu_only,
        )

    def _through_vllm(self, dataset: Any, params: SamplingParams, config: Any) -> Any:
        from ray.data.llm import build_processor

        processor = build_processor(
            config,
            preprocess=vllm_preprocess(params),
            postprocess=vllm_postprocess(self.stop_ids),
        )
        return processor(dataset)


def _generation_config(model: str) -> Any:
    """An object with the model's `generation_config` (its eos ids), for stop_token_ids."""
    from types import SimpleNamespace

    from transformers import GenerationConfig

    try:
        return SimpleNamespace(generation_config=GenerationConfig.from_pretrained(model))
    except OSError:
        return SimpleNamespace(generation_config=None)
