"""Grading a raw file: `<bench>.jsonl` (per-response verdicts) and the benchmark's metrics.

`s2lpo eval` scores with this after generating, and `s2lpo eval --responses` with this alone, so both give
the same numbers for the same raw file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.data.choices import normalize_choices
from s2lpo_cli.evaluation.progress import NoProgress, ProgressSink
from s2lpo_cli.evaluation.raw import read_raw
from s2lpo_cli.grading.choice import grade_choice
from s2lpo_cli.grading.grader import Grade, Grader
from s2lpo_cli.grading.metrics import BREAKDOWN_KEYS, QuestionResult, benchmark_metrics

# The per-benchmark keys summary.json holds (the <bench>.json files add grading counts and the breakdown).
SUMMARY_KEYS = ("n_questions", "k", "pass@1", "pass@k", "accuracy", "mean_length", "truncated_rate", "timeouts")
# What the numbers were graded under: the grading rules' version and the benchmark spec's (None for a file).
VERSION_KEYS = ("grading_rules_version", "spec_version")


def _grade_choices(records: list[dict[str, Any]], progress: ProgressSink, source: str) -> list[Grade]:
    """Multiple-choice questions: the choice grader, in this process (string work, nothing to time out)."""
    grades = []
    for rec in records:
        choices = normalize_choices(rec.get("choices"), f"{source}: question {rec['id']!r}")
        grades.extend(grade_choice(r["text"], str(rec["answer"]), choices) for r in rec["responses"])
        progress.advance(len(rec["responses"]))
    return grades


def score_records(
    records: list[dict[str, Any]],
    grader: Grader,
    pass_ks: list[int],
    progress: ProgressSink,
    label: str = "grading",
    answer_type: str = "latex",
    source: str = "responses",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Grade every response (math answers with `grader`, `answer_type` choice with the multiple-choice
    grader). Returns the scored lines and the metrics."""
    pairs = [(r["text"], str(rec["answer"])) for rec in records for r in rec["responses"]]
    progress.begin(label, total=len(pairs))
    if answer_type == "choice":
        grades = iter(_grade_choices(records, progress, source))
    else:
        grades = iter(grader.grade(pairs, progress.advance))
    scored, questions = [], []
    for rec in records:
        mine = [next(grades) for _ in rec["responses"]]
        correct = [g.correct for g in mine]
        scored.append({
            "id": rec["id"],
            "answer": rec["answer"],
            "extracted": [g.extracted for g in mine],
            "correct": correct,
            "grade_status": [g.status for g in mine],
        })
        groups = {key: str(rec[key]) for key in BREAKDOWN_KEYS if rec.get(key) is not None}
        questions.append(QuestionResult(
            correct=correct,
            lengths=[int(r.get("n_tokens", 0)) for r in rec["responses"]],
            finish_reasons=[str(r.get("finish_reason", "stop")) for r in rec["responses"]],
            statuses=[g.status for g in mine],
            groups=groups or None,
        ))
    metrics = benchmark_metrics(questions, pass_ks)
    metrics["skipped_questions"] = sum(1 for rec in records if rec.get("skipped"))
    return scored, metrics


def score_raw_file(
    raw_path: Path,
    scored_path: Path,
    grader: Grader,
    pass_ks: list[int],
    progress: ProgressSink | None,
    label: str,
    answer_type: str,
) -> dict[str, Any]:
    """Grade a raw file, write `<bench>.jsonl` atomically, return the metrics (`label`: the progress bar's)."""
    scored, metrics = score_records(
        read_raw(raw_path), grader, pass_ks, progress or NoProgress(), label, answer_type, str(raw_path)
    )
    write_text_atomic(scored_path, "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in scored))
    return metrics


def summary_entry(result: dict[str, Any]) -> dict[str, Any]:
    """A result's summary.json entry; a result written before versions were recorded has them as None."""
    return {**{key: result[key] for key in SUMMARY_KEYS}, **{key: result.get(key) for key in VERSION_KEYS}}
