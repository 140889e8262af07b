"""The vLLM engine's request building and output conversion (CPU), and the real engine (GPU only)."""

import importlib.util
from types import SimpleNamespace

import pytest

from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.engines.vllm_engine import request_kwargs, sampled_logprob, to_prompt_output

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _completion(index, token_ids, logprobs, finish_reason, text="x"):
    steps = [
        {tok: SimpleNamespace(logprob=lp, rank=1, decoded_token="?")}
        for tok, lp in zip(token_ids, logprobs, strict=True)
    ]
    return SimpleNamespace(
        index=index,
        text=text,
        token_ids=token_ids,
        logprobs=steps,
        finish_reason=finish_reason,
        cumulative_logprob=sum(logprobs),
        stop_reason=None,
    )


def test_request_maps_every_sampling_field():
    params = SamplingParams(
        n=16,
        temperature=0.7,
        top_p=0.9,
        top_k=20,
        presence_penalty=1.5,
        max_tokens=4096,
        seed=3,
        enable_thinking=True,
    )
    assert request_kwargs(params, seed=123) == {
        "n": 16,
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 20,
        "presence_penalty": 1.5,
        "max_tokens": 4096,
        "seed": 123,
        "logprobs": 0,
        "skip_special_tokens": True,
    }
    assert request_kwargs(params, seed=5, n=1)["n"] == 1


def test_output_conversion_orders_completions_and_takes_sampled_logprobs():
    output = SimpleNamespace(
        request_id="0",
        prompt="p",
        prompt_token_ids=[1, 2, 3],
        outputs=[
            _completion(1, [7, 8], [-0.5, -0.25], "length", text="second"),
            _completion(0, [9, 4], [-1.0, -0.125], "stop", text="first"),
        ],
    )
    converted = to_prompt_output(output)
    assert converted.prompt_token_ids == [1, 2, 3]
    assert [c.text for c in converted.completions] == ["first", "second"]
    assert converted.completions[0].token_ids == [9, 4]
    assert converted.completions[0].logprobs == [-1.0, -0.125]
    assert [c.finish_reason for c in converted.completions] == ["stop", "length"]


def test_aborted_request_is_an_error():
    output = SimpleNamespace(prompt_token_ids=[1], outputs=[_completion(0, [5], [-0.1], "abort")])
    with pytest.raises(RuntimeError, match="abort"):
        to_prompt_output(output)


def test_logprob_after_an_arrow_round_trip():
    assert sampled_logprob({"17": {"logprob": -2.5, "rank": 3}}, 17) == -2.5
    assert sampled_logprob({17: {"logprob": -0.5}}, 17) == -0.5
    with pytest.raises(ValueError, match="no log-prob"):
        sampled_logprob({18: {"logprob": -0.5}}, 17)


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed")
def test_missing_vllm_names_the_extra(random_lm_dir):
    from s2lpo_cli.engines.factory import make_engine
    from s2lpo_cli.errors import MissingExtraError

    with pytest.raises(MissingExtraError, match=r"pip install 's2lpo\[vllm\]'"):
        make_engine("vllm", str(random_lm_dir))


@pytest.mark.gpu
def test_vllm_matches_the_embedded_engine_greedily(random_lm_dir):
    """On a GPU: vLLM and the embedded engine take the same greedy path, with close log-probs."""
    pytest.importorskip("vllm")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from s2lpo_cli.engines.embedded import EmbeddedEngine
    from s2lpo_cli.engines.vllm_engine import VLLMEngine
    from s2lpo_cli.engines.vllm_settings import resolve_vllm_settings

    prompts = [
        [{"role": "user", "content": "What is 12 + 7?"}],
        [{"role": "user", "content": "Solve 3x + 2 = 11."}],
    ]
    params = SamplingParams(n=2, temperature=0.0, max_tokens=16)
    vllm_out = VLLMEngine.load(str(random_lm_dir), resolve_vllm_settings(gpu_memory_utilization=0.3)).generate(
        prompts, params, seeds=[1, 2]
    )
    ref = EmbeddedEngine.load(str(random_lm_dir), device="cpu").generate(prompts, params, seeds=[1, 2])
    for a, b in zip(vllm_out, ref, strict=True):
        assert a.prompt_token_ids == b.prompt_token_ids
        for x, y in zip(a.completions, b.completions, strict=True):
            assert x.token_ids == y.token_ids
            assert x.logprobs == pytest.approx(y.logprobs, abs=1e-2)
