"""The Ray engine: batch sampling with Ray Data, across the nodes of a Ray cluster.

Each prompt is rendered here with the model's own chat template (so `enable_thinking` applies) and exploded
into n rows of one completion each, row k seeded `seed + k` (the seeds vLLM would give the n children of one
request, and the seeds the embedded engine uses), because Ray's vLLM stage keeps only a request's first
output. On a cluster with GPUs the rows go through `ray.data.llm`'s vLLM processor; on CPU-only clusters
through actors that each hold an embedded engine. Both return the same rows, regrouped per prompt here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from s2lpo_cli.engines.base import ChatMessages, Completion, PromptOutput, SamplingParams
from s2lpo_cli.engines.vllm_engine import LOGPROBS_MODE, request_kwargs, sampled_logprob
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


def vllm_engine_kwargs(
    tensor_parallel_size: int, gpu_memory_utilization: float, max_model_len: int | None
) -> dict:
    kwargs = {
        "tensor_parallel_size": tensor_parallel_size,
        "gpu_memory_utilization": gpu_memory_utilization,
        "logprobs_mode": LOGPROBS_MODE,
    }
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
    return kwargs


class RayEngine:
    """Samples on a Ray cluster (the one at RAY_ADDRESS, or a local one), with vLLM on GPU nodes or
    embedded engines on CPU workers. `workers` is the number of engine replicas; by default one per
    `tensor_parallel_size` GPUs of the cluster, or one per two CPUs on a cluster without GPUs."""

    def __init__(
        self,
        model: str,
        *,
        workers: int | None = None,
        batch_size: int = 64,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        use_gpus: bool | None = None,
    ):
        from s2lpo_cli.engines.embedded import stop_token_ids
        from s2lpo_cli.engines.loading import load_tokenizer

        self.ray = require("ray", "the ray engine")
        require("ray.data", "the ray engine")
        self.model = model
        self.tokenizer = load_tokenizer(model)
        self.workers = workers
        self.batch_size = batch_size
        self.engine_kwargs = vllm_engine_kwargs(tensor_parallel_size, gpu_memory_utilization, max_model_len)
        self.use_gpus = use_gpus
        self.stop_ids = stop_token_ids(_generation_config(model), self.tokenizer)

    def encode(self, messages: ChatMessages, enable_thinking: bool) -> list[int]:
        return encode_prompt(self.tokenizer, messages, enable_thinking)

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
        gpus = self.use_gpus if self.use_gpus is not None else resources.get("GPU", 0) > 0
        replicas = self.workers or max(
            1,
            int(
                resources.get("GPU", 0) // self.engine_kwargs["tensor_parallel_size"]
                if gpus
                else resources.get("CPU", 1) // 2
            ),
        )
        if gpus:
            dataset = self._through_vllm(dataset, params, replicas)
        else:
            dataset = dataset.map_batches(
                EmbeddedWorker,
                fn_constructor_kwargs={"model": self.model, "params": params},
                batch_size=self.batch_size,
                compute=self.ray.data.ActorPoolStrategy(size=replicas),
                num_cpus=1,
            )
        return regroup(ids, dataset.take_all())

    def processor_config(self, replicas: int) -> Any:
        """The `ray.data.llm` vLLM processor config: prompts arrive tokenized, vLLM detokenizes."""
        llm = require("ray.data.llm", "the ray engine on GPUs")
        return llm.vLLMEngineProcessorConfig(
            model_source=self.model,
            engine_kwargs=self.engine_kwargs,
            batch_size=self.batch_size,
            concurrency=replicas,
            chat_template_stage=False,  # prompts are rendered here (its stage takes no enable_thinking)
            tokenize_stage=False,
            detokenize_stage=False,
        )

    def _through_vllm(self, dataset: Any, params: SamplingParams, replicas: int) -> Any:
        from ray.data.llm import build_processor

        processor = build_processor(
            self.processor_config(replicas),
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
