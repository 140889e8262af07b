"""verl's reward function: the project's grader, the same code as `s2lpo eval` and the embedded trainer.

verl loads it from `reward.custom_reward_function.path=pkg://s2lpo_cli.verl_ext.reward` (name
`compute_score`) and calls it once per response with keyword arguments (data_source, solution_str,
ground_truth, extra_info, ...). The dict it returns becomes verl's `reward_extra_info`.
"""

from __future__ import annotations

from typing import Any

from s2lpo_cli.grading.grader import grade_one

GRADE_TIMEOUT_S = 5.0


def compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: dict | None = None, **_: Any
) -> dict[str, float]:
    """1.0 when the boxed answer matches the gold answer, else 0.0 (no answer and timeouts are wrong)."""
    grade = grade_one(solution_str, str(ground_truth), timeout_s=GRADE_TIMEOUT_S)
    score = 1.0 if grade.correct else 0.0
    return {"score": score, "acc": score, "no_answer": 1.0 if grade.status == "no_answer" else 0.0}
