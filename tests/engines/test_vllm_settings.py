"""The vLLM engine's settings: device defaults, user overrides, and the memory checks (no vLLM needed)."""

from types import SimpleNamespace

import pytest

from s2lpo_cli.engines.vllm_settings import (
    check_kv_cache,
    default_kv_cache_gib,
    kv_bytes_per_token,
    resolve_vllm_settings,
)
from s2lpo_cli.errors import UserError

# Qwen3-1.7B's attention shape: 28 layers, 8 KV heads of 128.
QWEN3_1_7B = SimpleNamespace(num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                             hidden_size=2048, max_position_embeddings=40960)
TINY_TARGET = SimpleNamespace(num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                              hidden_size=128, max_position_embeddings=512)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)


def test_cpu_defaults_work_on_cpu():
    settings = resolve_vllm_settings(model_config=TINY_TARGET, cuda=False, available_gib=20)
    assert (settings.device, settings.dtype, settings.kv_cache_gib) == ("cpu", "float32", 1.0)
    assert settings.in_process and settings.enforce_eager
    kwargs = settings.engine_kwargs()
    assert kwargs["kv_cache_memory_bytes"] == 1024**3
    assert kwargs["enable_chunked_prefill"] is False and kwargs["enforce_eager"] is True
    assert kwargs["dtype"] == "float32"
    assert settings.record()["kv_cache_gib"] == 1.0


def test_cpu_kv_cache_grows_with_the_model_within_a_quarter_of_memory():
    per_token = kv_bytes_per_token(QWEN3_1_7B, "float32")
    assert per_token == 2 * 28 * 8 * 128 * 4
    settings = resolve_vllm_settings(model_config=QWEN3_1_7B, cuda=False, available_gib=100)
    assert settings.kv_cache_gib == 17.5  # two 40,960-token sequences: 2 x 8.75 GiB
    capped = resolve_vllm_settings(model_config=QWEN3_1_7B, cuda=False, available_gib=20)
    assert capped.kv_cache_gib == 5.0
    with pytest.raises(UserError, match=r"--kv-cache-gib 5: one 40960-token sequence .* 8.75 GiB .* --kv-cache-gib 9"):
        check_kv_cache(capped, QWEN3_1_7B, available_gib=20)


def test_user_overrides_and_the_legacy_variable(monkeypatch):
    settings = resolve_vllm_settings(model_config=TINY_TARGET, dtype="bfloat16", kv_cache_gib=2.5, cuda=False,
                                     available_gib=20)
    assert (settings.dtype, settings.kv_cache_gib) == ("bfloat16", 2.5)
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "3")
    assert default_kv_cache_gib(20, 0.001) == 3.0
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "1")
    assert not resolve_vllm_settings(cuda=False, available_gib=20).in_process
    with pytest.raises(UserError, match="--kv-cache-gib: is -1"):
        resolve_vllm_settings(kv_cache_gib=-1, cuda=False)


def test_short_memory_is_a_clear_error_naming_the_setting():
    settings = resolve_vllm_settings(model_config=TINY_TARGET, kv_cache_gib=8, cuda=False, available_gib=20)
    with pytest.raises(UserError, match=r"--kv-cache-gib 8: only 6.0 GiB of memory is available"):
        check_kv_cache(settings, TINY_TARGET, available_gib=6.0)
    check_kv_cache(settings, TINY_TARGET, available_gib=9.0)


def test_gpu_keeps_vllms_own_memory_rule():
    settings = resolve_vllm_settings(gpu_memory_utilization=0.3, tensor_parallel_size=2, cuda=True)
    assert (settings.device, settings.dtype, settings.kv_cache_gib) == ("cuda", "auto", None)
    kwargs = settings.engine_kwargs()
    assert kwargs["gpu_memory_utilization"] == 0.3 and kwargs["tensor_parallel_size"] == 2
    assert "kv_cache_memory_bytes" not in kwargs and "enable_chunked_prefill" not in kwargs
    assert not settings.enforce_eager and not settings.in_process
