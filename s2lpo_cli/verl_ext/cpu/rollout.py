"""verl's rollout server on a CPU: the project's embedded engine behind verl's rollout-server interface.

verl's agent loop asks a rollout replica's server for tokens (`generate` -> `TokenOutput`), and the
hybrid worker pushes the actor's weights into the rollout after every step (`ServerAdapter.update_weights`).
On a GPU both are vLLM. Here:
  - `EmbeddedRolloutServer`, a Ray actor per replica, holds the target model and samples with
    `EmbeddedEngine` (vLLM's sampling rules, log-probs of the processed distribution). Concurrent
    requests are gathered into batches, one batch per set of sampling parameters.
  - `EmbeddedServerAdapter`, the rollout object inside verl's hybrid worker, sends the actor's full
    weights to its replica's server (as vLLM's adapter does over IPC), so every step samples from the
    weights the actor has just trained.
  - `EmbeddedReplica` starts the server; registered as rollout `s2lpo_embedded` (`cpu.mode.register`).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import ray
import torch
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

BATCH_WINDOW_S = 0.05  # how long the server waits for more concurrent requests before it decodes a batch


def server_name(replica_rank: int) -> str:
    return f"s2lpo_embedded_server_{replica_rank}"


class EmbeddedRolloutServer:
    """One replica's server: the target's weights and the embedded sampler, token ids in, token ids out."""

    def __init__(self, model_path: str, response_length: int, prompt_length: int, max_model_len: int | None,
                 max_batch_rows: int = 64) -> None:
        from s2lpo_cli.engines.embedded import EmbeddedEngine

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        self.engine = EmbeddedEngine.load(model_path, device="cpu", max_batch_rows=max_batch_rows)
        self.response_length = response_length
        self.prompt_length = prompt_length
        self.max_model_len = max_model_len or prompt_length + response_length
        self.global_steps: int | None = None
        self._pending: list[tuple[list[int], dict[str, Any], asyncio.Future]] = []
        self._batcher: asyncio.Task | None = None

    # ------------------------------------------------------------------ generation

    def _max_tokens(self, prompt_ids: list[int], sampling_params: dict[str, Any]) -> int:
        room = self.max_model_len - len(prompt_ids)
        if room < 1:
            raise ValueError(f"prompt of {len(prompt_ids)} tokens leaves no room within max_model_len {self.max_model_len}")
        wanted = sampling_params.get("max_tokens", sampling_params.get("max_new_tokens"))
        if wanted is None:
            wanted = min(self.response_length, self.prompt_length + self.response_length - len(prompt_ids))
        return max(1, min(int(wanted), room))

    def _params(self, prompt_ids: list[int], sampling_params: dict[str, Any]):
        from s2lpo_cli.engines.base import SamplingParams

        top_k = sampling_params.get("top_k", -1)
        return SamplingParams(
            n=1,
            temperature=float(sampling_params.get("temperature", 1.0)),
            top_p=float(sampling_params.get("top_p", 1.0)),
            top_k=-1 if top_k is None or int(top_k) <= 0 else int(top_k),
            presence_penalty=float(sampling_params.get("presence_penalty", 0.0)),
            max_tokens=self._max_tokens(prompt_ids, sampling_params),
            seed=sampling_params.get("seed"),
        )

    async def generate(self, prompt_ids: list[int], sampling_params: dict[str, Any], request_id: str,
                       image_data: Any = None, video_data: Any = None, **kwargs: Any) -> TokenOutput:
        if image_data is not None or video_data is not None:
            raise ValueError("the embedded rollout server generates text only")
        future = asyncio.get_running_loop().create_future()
        self._pending.append((list(prompt_ids), dict(sampling_params), future))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._run_batches())
        return await future

    async def _run_batches(self) -> None:
        """Decode what has gathered, one batch per set of sampling parameters, until nothing waits."""
        while self._pending:
            await asyncio.sleep(BATCH_WINDOW_S)
            pending, self._pending = self._pending, []
            batches: dict[Any, list[tuple[list[int], asyncio.Future]]] = {}
            for prompt_ids, sampling_params, future in pending:
                try:
                    params = self._params(prompt_ids, sampling_params)
                except ValueError as exc:
                    future.set_exception(exc)
                    continue
                batches.setdefault(params, []).append((prompt_ids, future))
            for params, items in batches.items():
                try:
                    outputs = await asyncio.to_thread(self.engine.generate_from_ids, [p for p, _ in items], params)
                except Exception as exc:  # noqa: BLE001 - every waiting request learns why
                    for _, future in items:
                        future.set_exception(exc)
                    continue
                for (_, future), output in zip(items, outputs, strict=True):
                    completion = output.completions[0]
                    future.set_result(TokenOutput(
                        token_ids=list(completion.token_ids),
                        log_probs=[float(x) for x in completion.logprobs],
                        stop_reason="completed",
                        extra_fields={"global_steps": self.global_steps},
                    ))

    # ------------------------------------------------------------------ weights and lifecycle

    def update_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Load the actor's weights (full tensors, Hugging Face names)."""
        model = self.engine.model
        result = model.load_state_dict(state, strict=False)
        tied = {"lm_head.weight"} if getattr(model.config, "tie_word_embeddings", False) else set()
        missing = set(result.missing_keys) - tied
        if result.unexpected_keys or missing:
            raise RuntimeError(f"weights from the actor do not fit the rollout model: unexpected "
                               f"{sorted(result.unexpected_keys)[:5]}, missing {sorted(missing)[:5]}")

    async def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps

    async def wake_up(self, tags: list[str] | None = None) -> None:
        return None

    async def sleep(self) -> None:
        return None

    async def clear_kv_cache(self) -> None:
        return None  # the embedded engine keeps no cache between batches

    release_kv_cache = resume_kv_cache = clear_kv_cache

    async def abort_all_requests(self, reset_prefix_cache: bool = True, reject_request: bool = False) -> dict:
        return {"aborted_count": 0, "request_ids": []}  # sync mode: a step's requests all finish

    async def resume_generation(self) -> None:
        return None

    async def wait_for_requests_to_drain(self) -> None:
        while self._pending or (self._batcher is not None and not self._batcher.done()):
            await asyncio.sleep(BATCH_WINDOW_S)

    async def start_profile(self, **kwargs: Any) -> None:
        return None

    async def stop_profile(self) -> None:
        return None


class EmbeddedReplica(RolloutReplica):
    """A rollout replica whose one server is an `EmbeddedRolloutServer` on the node of its first worker."""

    async def launch_servers(self) -> None:
        node_id = await self.workers[0].__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id())
        config = self.config
        server = ray.remote(EmbeddedRolloutServer).options(
            name=server_name(self.replica_rank),
            num_cpus=0,  # the CPU run's processes share the machine's cores; Ray does not count them
            max_concurrency=self.max_concurrency,
            scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
            runtime_env={"env_vars": {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}},
        ).remote(
            model_path=self.model_config.get("local_path") or self.model_config.path,
            response_length=config.response_length,
            prompt_length=config.prompt_length,
            max_model_len=config.max_model_len,
        )
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"embedded-{self.replica_rank}"


class EmbeddedServerAdapter(BaseRollout):
    """The rollout inside verl's hybrid worker: forwards the actor's weights to its replica's server."""

    def __init__(self, config: Any, model_config: Any, device_mesh: Any, replica_rank: int = -1) -> None:
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", 0))
        world = self.config.tensor_model_parallel_size * self.config.data_parallel_size
        self.replica_rank = rank // world if replica_rank == -1 else replica_rank
        self.sends_weights = rank % world == 0
        self._server = None

    @property
    def server(self):
        if self._server is None:
            self._server = ray.get_actor(server_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None:
        return None

    async def release(self) -> None:
        return None

    async def update_weights(self, weights, wire_format: str = "named_tensors", **kwargs: Any) -> None:
        if wire_format != "named_tensors":
            raise NotImplementedError(f"the embedded rollout takes full named tensors, not {wire_format!r}")
        state = {name: tensor.detach().to("cpu").clone() for name, tensor in weights}
        if self.sends_weights:
            await self.server.update_weights.remote(state)
        global_steps = kwargs.get("global_steps")
        if self.sends_weights and global_steps is not None:
            await self.server.set_global_steps.remote(global_steps)
