import importlib.util

import pytest

from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.engines.factory import make_engine
from s2lpo_cli.engines.ray_engine import explode, regroup, vllm_postprocess, vllm_preprocess
from s2lpo_cli.errors import UserError

PROMPTS = [
    [{"role": "user", "content": "What is 12 + 7?"}],
    [{"role": "user", "content": "Solve 3x + 2 = 11."}],
]


def test_unknown_engine_lists_the_choices(random_lm_dir):
    with pytest.raises(UserError, match="unknown engine 'sglang'; choose one of: embedded, vllm, ray"):
        make_engine("sglang", str(random_lm_dir))


def test_missing_local_model_fails_before_any_work(tmp_path):
    with pytest.raises(UserError, match="no such model folder"):
        make_engine("embedded", str(tmp_path / "nowhere" / "explorer"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="expected config.json"):
        make_engine("embedded", str(tmp_path / "empty"))


def test_explode_seeds_each_completion_like_vllm_children():
    rows = explode([[1, 2], [3]], SamplingParams(n=3), seeds=[100, 7])
    assert [(r["prompt_index"], r["sample_index"], r["seed"]) for r in rows] == [
        (0, 0, 100),
        (0, 1, 101),
        (0, 2, 102),
        (1, 0, 7),
        (1, 1, 8),
        (1, 2, 9),
    ]
    shuffled = [
        dict(r, token_ids=[r["seed"]], logprobs=[-1.0], text=str(r["seed"]), finish_reason="stop")
        for r in reversed(rows)
    ]
    outputs = regroup([[1, 2], [3]], shuffled)
    assert [o.prompt_token_ids for o in outputs] == [[1, 2], [3]]
    assert [[c.token_ids[0] for c in o.completions] for o in outputs] == [[100, 101, 102], [7, 8, 9]]


def test_vllm_rows_for_ray_data():
    params = SamplingParams(n=8, temperature=0.6, top_p=0.95, top_k=20, max_tokens=5)
    request = vllm_preprocess(params)(
        {"prompt_index": 1, "sample_index": 3, "prompt_token_ids": [4, 5], "seed": 11}
    )
    assert request["tokenized_prompt"] == [4, 5]
    assert request["sampling_params"]["n"] == 1 and request["sampling_params"]["seed"] == 11
    assert request["sampling_params"]["logprobs"] == 0
    post = vllm_postprocess({2})
    base = {"prompt_index": 1, "sample_index": 3, "generated_text": "ab"}
    stopped = post(
        {**base, "generated_tokens": [9, 2], "logprobs": [{9: {"logprob": -0.5}}, {"2": {"logprob": -0.1}}]}
    )
    assert stopped["finish_reason"] == "stop" and stopped["logprobs"] == [-0.5, -0.1]
    cut = post({**base, "generated_tokens": [9, 9], "logprobs": [{9: {"logprob": -0.5}}] * 2})
    assert cut["finish_reason"] == "length"


def test_ray_vllm_processor_config(random_lm_dir):
    pytest.importorskip("ray.data.llm")
    from s2lpo_cli.engines.ray_engine import RayEngine

    engine = RayEngine(str(random_lm_dir), batch_size=16, tensor_parallel_size=2, max_model_len=256)
    config = engine.processor_config(replicas=3)
    assert config.model_source == str(random_lm_dir)
    assert config.concurrency == 3 and config.batch_size == 16
    assert config.engine_kwargs["tensor_parallel_size"] == 2
    assert config.engine_kwargs["logprobs_mode"] == "processed_logprobs"
    assert config.engine_kwargs["max_model_len"] == 256
    assert not config.chat_template_stage and not config.tokenize_stage
    assert not config.log_engine_metrics  # its exporter imports Ray Serve, which the ray extra lacks
    assert engine.stop_ids == {engine.tokenizer.convert_tokens_to_ids("<|im_end|>")}


def test_ray_vllm_processor_config_on_cpu_workers(random_lm_dir):
    """A cluster without GPUs: one CPU per replica and the vllm engine's CPU settings (float32, eager, no
    chunked prefill, a fixed KV cache), vLLM not pinned to one core."""
    pytest.importorskip("ray.data.llm")
    from s2lpo_cli.engines.ray_engine import RayEngine

    engine = RayEngine(str(random_lm_dir), backend="vllm", kv_cache_gib=1.5, max_model_len=256)
    config = engine.processor_config(replicas=2, gpus=False)
    bundles = dict(config.placement_group_config)["bundles"]
    assert [b["CPU"] for b in bundles] == [1] and not any(b.get("GPU") for b in bundles)
    assert config.runtime_env["env_vars"]["VLLM_CPU_OMP_THREADS_BIND"] == "nobind"
    kwargs = config.engine_kwargs
    assert kwargs["dtype"] == "float32" and kwargs["enforce_eager"] and not kwargs["enable_chunked_prefill"]
    assert kwargs["kv_cache_memory_bytes"] == int(1.5 * 2**30)
    assert kwargs["logprobs_mode"] == "processed_logprobs"
    gpu = engine.processor_config(replicas=2, gpus=True)
    assert gpu.placement_group_config is None and gpu.engine_kwargs["dtype"] == "auto"
    with pytest.raises(ValueError, match="backend 'sglang'"):
        RayEngine(str(random_lm_dir), backend="sglang")


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_ray_vllm_backend_without_vllm_names_the_extra_before_any_ray_data_job(random_lm_dir):
    ray = pytest.importorskip("ray")
    from s2lpo_cli.engines.ray_engine import RayEngine
    from s2lpo_cli.errors import MissingExtraError

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(MissingExtraError, match=r"vLLM backend needs the 'vllm' package.*s2lpo\[vllm\]"):
            RayEngine(str(random_lm_dir), backend="vllm").generate(PROMPTS, SamplingParams(n=1, max_tokens=4))
    finally:
        ray.shutdown()


@pytest.mark.ray
@pytest.mark.slow
def test_ray_on_cpu_workers_equals_the_embedded_engine(random_lm_dir):
    ray = pytest.importorskip("ray")
    from s2lpo_cli.engines.embedded import EmbeddedEngine
    from s2lpo_cli.engines.ray_engine import RayEngine

    params = SamplingParams(n=3, temperature=1.0, top_p=0.9, max_tokens=8)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = RayEngine(str(random_lm_dir), batch_size=4).generate(PROMPTS, params, seeds=[5, 9])
    finally:
        ray.shutdown()
    ref = EmbeddedEngine.load(str(random_lm_dir), device="cpu").generate(PROMPTS, params, seeds=[5, 9])
    for a, b in zip(out, ref, strict=True):
        assert a.prompt_token_ids == b.prompt_token_ids
        assert [c.token_ids for c in a.completions] == [c.token_ids for c in b.completions]
        assert [c.finish_reason for c in a.completions] == [c.finish_reason for c in b.completions]
        for x, y in zip(a.completions, b.completions, strict=True):
            assert x.logprobs == pytest.approx(y.logprobs, abs=1e-5)


@pytest.mark.gpu
@pytest.mark.ray
def test_ray_through_vllm_on_gpus(random_lm_dir):
    """On a GPU node: Ray Data's vLLM stage gives the completions the vLLM engine gives for the same seeds."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("vllm")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from s2lpo_cli.engines.ray_engine import RayEngine

    params = SamplingParams(n=2, temperature=0.0, max_tokens=8)
    ray.init(include_dashboard=False)
    try:
        out = RayEngine(str(random_lm_dir), workers=1, gpu_memory_utilization=0.3).generate(
            PROMPTS, params, seeds=[1, 2]
        )
    finally:
        ray.shutdown()
    assert [len(o.completions) for o in out] == [2, 2]
    for o in out:
        first, second = o.completions
        assert first.token_ids == second.token_ids and len(first.logprobs) == len(first.token_ids)
