"""Choosing an engine by name; vLLM and Ray are imported only when asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from s2lpo_cli.engines.base import Engine
from s2lpo_cli.errors import UserError

if TYPE_CHECKING:
    from s2lpo_cli.engines.vllm_settings import VLLMSettings

ENGINE_KINDS = ("embedded", "vllm", "ray")
RayBackend = Literal["auto", "vllm", "embedded"]  # auto: vLLM on a cluster with GPUs, else embedded
RAY_BACKENDS: tuple[RayBackend, ...] = ("auto", "vllm", "embedded")


def make_engine(
    kind: str,
    model: str,
    *,
    device: str = "auto",
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
    seed: int = 0,
    vllm_settings: VLLMSettings | None = None,
    ray_backend: RayBackend = "auto",
    vllm_dtype: str | None = None,
    kv_cache_gib: float | None = None,
) -> Engine:
    """embedded: torch in this process (CPU or one GPU); vllm: vLLM on this machine's GPUs or CPU;
    ray: Ray Data on the cluster at RAY_ADDRESS (or a local one), with `ray_backend`'s engines. `vllm_settings`
    (vllm only) overrides the settings the other arguments give; `vllm_dtype` and `kv_cache_gib` are the ray
    engine's vLLM choices."""
    from s2lpo_cli.engines.loading import check_model_path

    if kind not in ENGINE_KINDS:
        raise UserError(f"unknown engine {kind!r}; choose one of: {', '.join(ENGINE_KINDS)}")
    check_model_path(model)
    if kind == "embedded":
        from s2lpo_cli.engines.embedded import EmbeddedEngine

        return EmbeddedEngine.load(model, device=device)
    if kind == "vllm":
        from s2lpo_cli.engines.vllm_engine import VLLMEngine
        from s2lpo_cli.engines.vllm_settings import model_config_of, resolve_vllm_settings

        settings = vllm_settings or resolve_vllm_settings(
            model_config=model_config_of(model),
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
        )
        return VLLMEngine.load(model, settings, seed=seed)
    from s2lpo_cli.engines.ray_engine import RayEngine

    return RayEngine(
        model,
        backend=ray_backend,
        dtype=vllm_dtype,
        kv_cache_gib=kv_cache_gib,
        tensor_parallel_size=tensor_parallel_size,
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_model_len,
    )
