"""What an evaluation run is: model, mode, samples, sampling parameters, benchmarks. Saved in config.txt."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from s2lpo_cli.engines.base import SamplingParams
from s2lpo_cli.errors import UserError
from s2lpo_cli.grading.metrics import DEFAULT_PASS_KS
from s2lpo_cli.prompting import DEFAULT_INSTRUCTION

MODES = ("think", "nothink")
# Qwen3's recommended settings, as the method's evaluation uses them.
MODE_SAMPLING: dict[str, dict[str, float | int]] = {
    "think": {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "presence_penalty": 0.0},
    "nothink": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "presence_penalty": 1.5},
}
DEFAULT_MAX_TOKENS = 32768


def resolve_sampling(mode: str, **overrides: float | int | None) -> dict[str, Any]:
    """The mode's defaults, with every override that is not None applied."""
    if mode not in MODES:
        raise UserError(f"--mode must be one of: {', '.join(MODES)} (got {mode!r})")
    sampling: dict[str, Any] = {**MODE_SAMPLING[mode], "max_tokens": DEFAULT_MAX_TOKENS}
    unknown = set(overrides) - set(sampling)
    if unknown:
        raise ValueError(f"unknown sampling parameter(s): {', '.join(sorted(unknown))}")
    sampling.update({k: v for k, v in overrides.items() if v is not None})
    return sampling


@dataclass(frozen=True)
class EvalSettings:
    """Everything that decides what gets generated. A resumed run must match it exactly."""

    model: str
    mode: str
    k: int
    sampling: dict[str, Any]
    seed: int = 0
    benchmarks: dict[str, str | None] = field(default_factory=dict)  # name -> file (None: from the registry)
    data_dir: str | None = None
    limit: int | None = None
    pass_ks: list[int] = field(default_factory=lambda: list(DEFAULT_PASS_KS))
    instruction: str | None = None  # appended to every question; None: each benchmark's own

    def instruction_for(self, name: str) -> str:
        """The instruction a benchmark's questions are asked with: the run's, else the registered benchmark's,
        else (a --benchmark-file) the default one."""
        from s2lpo_cli.data.benchmarks import spec_of

        if self.instruction is not None:
            return self.instruction
        spec = spec_of(name, self.benchmarks.get(name))
        return spec.instruction if spec else DEFAULT_INSTRUCTION

    def __post_init__(self) -> None:
        if self.k < 1:
            raise UserError(f"--k must be at least 1 (got {self.k})")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be at least 1 (got {self.limit})")
        if not self.benchmarks:
            raise UserError("no benchmarks to run: name some with --benchmarks or give --benchmark-file")

    def sampling_params(self) -> SamplingParams:
        return SamplingParams(n=self.k, seed=self.seed, enable_thinking=self.mode == "think", **self.sampling)

    def question_seed(self, question_id: str) -> int:
        """A question's own seed: results do not depend on batching or on where a resumed run restarted."""
        return int(hashlib.sha256(f"{self.seed}:{question_id}".encode()).hexdigest()[:8], 16)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalSettings:
        return cls(**data)
