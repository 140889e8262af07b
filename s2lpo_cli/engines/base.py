"""The generation interface shared by the embedded, vLLM and Ray engines."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

ChatMessages = list[dict[str, str]]


@dataclass(frozen=True)
class SamplingParams:
    """Sampling parameters, with vLLM's meaning (top_k=-1 disables top-k)."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    presence_penalty: float = 0.0
    max_tokens: int = 256
    seed: int | None = None
    enable_thinking: bool = False

    def with_(self, **changes) -> SamplingParams:
        return replace(self, **changes)


@dataclass
class Completion:
    """One sampled response."""

    text: str
    token_ids: list[int]
    logprobs: list[float]  # per token, of the processed (temperature/top-p/top-k) sampling distribution
    finish_reason: Literal["stop", "length"]


@dataclass
class PromptOutput:
    """All n completions of one prompt, with the rendered prompt's token ids."""

    prompt_token_ids: list[int]
    completions: list[Completion] = field(default_factory=list)


class Engine(Protocol):
    """Generates n completions per chat prompt. Prompts are rendered with the model's chat template."""

    tokenizer: Any  # the model's Hugging Face tokenizer

    def generate(
        self, prompts: list[ChatMessages], params: SamplingParams, seeds: list[int] | None = None
    ) -> list[PromptOutput]:
        """`seeds`, when given, holds one seed per prompt so results do not depend on batching."""
        ...


class PolicyEngine(Engine, Protocol):
    """An engine over the policy being trained: generates from prompts already rendered and tokenized."""

    pad_id: int

    def generate_from_ids(
        self, prompt_token_ids: list[list[int]], params: SamplingParams, seeds: list[int] | None = None
    ) -> list[PromptOutput]: ...
