"""A scripted engine for the runner's own logic (resume, layout, scoring); the end-to-end test uses the real one."""

from __future__ import annotations

from s2lpo_cli.engines.base import Completion, PromptOutput


class ScriptedEngine:
    """Sample j of a question is right when (seed + j) % 3 == 0; the last sample of each is cut off (length).

    It knows the gold answers (it is given the rows) so that correctness follows the rule above exactly.
    `fail_after` generate() calls, it raises, as a killed run would stop.
    """

    def __init__(self, answers: dict[str, str], fail_after: int | None = None) -> None:
        self.answers = answers
        self.fail_after = fail_after
        self.calls = 0
        self.asked: list[str] = []

    def generate(self, prompts, params, seeds=None):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("killed")
        self.calls += 1
        outputs = []
        for messages, seed in zip(prompts, seeds, strict=True):
            content = messages[-1]["content"]
            question = next(q for q in self.answers if content.startswith(q))
            self.asked.append(question)
            completions = []
            for j in range(params.n):
                answer = self.answers[question] if (seed + j) % 3 == 0 else "x+1"
                text = f"<think>let me see</think>The result is $\\boxed{{{answer}}}$."
                completions.append(Completion(text, list(range(5 + j)), [0.0] * (5 + j), "length" if j == params.n - 1 else "stop"))
            outputs.append(PromptOutput(prompt_token_ids=[1, 2, 3], completions=completions))
        return outputs


def expected_correct(settings, rows) -> dict[str, int]:
    """Correct samples per question under ScriptedEngine's rule, computed from the settings' seeds."""
    return {r.id: sum((settings.question_seed(r.id) + j) % 3 == 0 for j in range(settings.k)) for r in rows}
