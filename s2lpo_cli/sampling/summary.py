"""What a rollout store holds, in the numbers `s2lpo sample` prints at the end."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SampleSummary:
    prompts: int
    responses: int
    mean_reward: float
    all_right: float  # share of prompts whose responses are all right
    all_wrong: float  # share of prompts whose responses are all wrong
    truncation_rate: float  # share of responses that hit max_tokens
    mean_response_tokens: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(table: Any) -> SampleSummary:
    """Summary of a rollout table (pyarrow, the store's schema)."""
    prompt_ids = table.column("prompt_id").to_pylist()
    rewards = table.column("reward").to_pylist()
    finish = table.column("finish_reason").to_pylist()
    lengths = [len(t) for t in table.column("response_token_ids").to_pylist()]
    by_prompt: dict[str, list[float]] = {}
    for pid, reward in zip(prompt_ids, rewards, strict=True):
        by_prompt.setdefault(pid, []).append(reward)
    n, p = len(rewards), len(by_prompt)
    return SampleSummary(
        prompts=p,
        responses=n,
        mean_reward=sum(rewards) / n if n else 0.0,
        all_right=sum(all(r > 0 for r in rs) for rs in by_prompt.values()) / p if p else 0.0,
        all_wrong=sum(all(r <= 0 for r in rs) for rs in by_prompt.values()) / p if p else 0.0,
        truncation_rate=sum(f == "length" for f in finish) / n if n else 0.0,
        mean_response_tokens=sum(lengths) / n if n else 0.0,
    )
