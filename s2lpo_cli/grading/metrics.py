"""Benchmark metrics from graded responses: Pass@1, unbiased Pass@k, accuracy, lengths, breakdowns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from s2lpo_cli.grading.passk import pass_at_k

DEFAULT_PASS_KS = (1, 2, 4, 8, 16)
BREAKDOWN_KEYS = ("subject", "level")  # reported when the data has them (MATH-500)


@dataclass(frozen=True)
class QuestionResult:
    """The graded samples of one question."""

    correct: Sequence[bool]
    lengths: Sequence[int]  # response tokens
    finish_reasons: Sequence[str]  # "stop" | "length"
    statuses: Sequence[str]  # grade status of each response
    groups: dict[str, str] | None = None  # e.g. {"subject": "Algebra", "level": "3"}


def reported_ks(n_samples: int, ks: Iterable[int] = DEFAULT_PASS_KS) -> list[int]:
    """Every k of the list that the samples allow, and the number of samples itself."""
    return sorted({k for k in ks if 1 <= k <= n_samples} | {n_samples})


def core_metrics(questions: Sequence[QuestionResult], ks: Iterable[int] = DEFAULT_PASS_KS) -> dict:
    """Pass@1, Pass@k, accuracy, mean length, truncation rate, timeouts over these questions."""
    if not questions:
        raise ValueError("no questions to score")
    if any(len(q.correct) == 0 for q in questions):
        raise ValueError("every question needs at least one response")
    n_min = min(len(q.correct) for q in questions)
    n_responses = sum(len(q.correct) for q in questions)
    pass_k = {
        str(k): sum(pass_at_k(len(q.correct), sum(map(bool, q.correct)), k) for q in questions) / len(questions)
        for k in reported_ks(n_min, ks)
    }
    return {
        "n_questions": len(questions),
        "k": n_min,
        "pass@1": pass_k["1"],
        "pass@k": pass_k,
        "accuracy": sum(sum(map(bool, q.correct)) for q in questions) / n_responses,
        "mean_length": sum(sum(q.lengths) for q in questions) / n_responses,
        "truncated_rate": sum(r == "length" for q in questions for r in q.finish_reasons) / n_responses,
        "timeouts": sum(s == "timeout" for q in questions for s in q.statuses),
    }


def breakdown(questions: Sequence[QuestionResult], ks: Iterable[int] = DEFAULT_PASS_KS) -> dict:
    """Metrics per subject and per level: {"subject": {"Algebra": {...}}, "level": {"1": {...}}}."""
    out: dict[str, dict] = {}
    for key in BREAKDOWN_KEYS:
        groups: dict[str, list[QuestionResult]] = {}
        for q in questions:
            if q.groups and key in q.groups:
                groups.setdefault(q.groups[key], []).append(q)
        if groups:
            out[key] = {name: core_metrics(members, ks) for name, members in sorted(groups.items())}
    return out


def benchmark_metrics(questions: Sequence[QuestionResult], ks: Iterable[int] = DEFAULT_PASS_KS) -> dict:
    """core_metrics plus grading counts and the per-subject/level breakdown (empty when the data has none)."""
    ks = list(ks)
    statuses = [s for q in questions for s in q.statuses]
    return {
        **core_metrics(questions, ks),
        "no_answer_rate": statuses.count("no_answer") / len(statuses),
        "grading_errors": statuses.count("error"),
        "breakdown": breakdown(questions, ks),
    }
