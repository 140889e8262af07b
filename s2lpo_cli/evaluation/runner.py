"""The evaluation loop, and re-grading responses already generated.

For each benchmark: generate the questions not yet in `<bench>_raw.jsonl` (in batches, appended as they
finish), grade the raw file, write `<bench>.jsonl` and `result/<run>/<bench>.json`; then summary.json.
A killed run continues where its raw files stop; a benchmark whose result exists is not graded again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.data.benchmarks import (
    BenchmarkSpec,
    get_benchmark,
    load_benchmark,
    load_benchmark_file,
    spec_of,
)
from s2lpo_cli.data.rows import Row
from s2lpo_cli.engines.base import Engine, PromptOutput
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.layout import SUMMARY, RunDirs
from s2lpo_cli.evaluation.progress import NoProgress, ProgressSink
from s2lpo_cli.evaluation.raw import append_records, finished_ids, raw_record, skipped_record
from s2lpo_cli.evaluation.scoring import score_raw_file, summary_entry
from s2lpo_cli.evaluation.settings import EvalSettings
from s2lpo_cli.grading.grader import Grader
from s2lpo_cli.grading.metrics import DEFAULT_PASS_KS
from s2lpo_cli.grading.version import RULES_VERSION
from s2lpo_cli.prompting import build_messages


def load_questions(settings: EvalSettings) -> dict[str, list[Row]]:
    """Every benchmark's rows, loaded up front so that bad data fails before any model is loaded."""
    return {
        name: load_benchmark_file(file, settings.limit)
        if file
        else load_benchmark(get_benchmark(name), settings.data_dir, settings.limit)
        for name, file in settings.benchmarks.items()
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _result_header(name: str, spec: BenchmarkSpec | None, settings_model: str, mode: str | None) -> dict[str, Any]:
    """The opening keys of `<bench>.json`: what was graded, and under which rules and spec version."""
    return {"benchmark": name, "model": settings_model, "mode": mode,
            "grading_rules_version": RULES_VERSION, "spec_version": spec.version if spec else None}


def _generate_batch(
    engine: Engine, rows: list[Row], settings: EvalSettings, instruction: str
) -> list[PromptOutput | str]:
    """Outputs for a batch. When the engine rejects it (a prompt longer than the model's context raises
    ValueError in both engines), each prompt is retried alone and a rejected one gets the error message."""
    params = settings.sampling_params()
    prompts = [build_messages(row.question, instruction) for row in rows]
    seeds = [settings.question_seed(row.id) for row in rows]
    try:
        outputs: list[PromptOutput | str] = list(engine.generate(prompts, params, seeds=seeds))
    except ValueError as exc:
        if len(rows) == 1:
            return [str(exc)]
        return [out for row in rows for out in _generate_batch(engine, [row], settings, instruction)]
    if len(outputs) != len(rows) or any(len(o.completions) != settings.k for o in outputs):
        raise RuntimeError(f"the engine returned outputs for {len(outputs)} of {len(rows)} prompts, or not k={settings.k} each")
    return outputs


def _generate(
    settings: EvalSettings, name: str, rows: list[Row], dirs: RunDirs, engine: Callable[[], Engine],
    batch_size: int, progress: ProgressSink,
) -> None:
    raw = dirs.raw_path(name)
    instruction = settings.instruction_for(name)
    done = finished_ids(raw)
    todo = [row for row in rows if row.id not in done]
    progress.begin(f"{name}: generating", total=len(rows) * settings.k, done=(len(rows) - len(todo)) * settings.k)
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        outputs = _generate_batch(engine(), batch, settings, instruction)
        for row, out in zip(batch, outputs, strict=True):
            if isinstance(out, str):
                progress.note(f"{name}: question {row.id!r} skipped, graded wrong: {out}")
        append_records(raw, [
            raw_record(row, out) if isinstance(out, PromptOutput) else skipped_record(row, out, settings.k)
            for row, out in zip(batch, outputs, strict=True)
        ])
        progress.advance(len(batch) * settings.k)


def run_eval(
    settings: EvalSettings,
    dirs: RunDirs,
    make_engine: Callable[[], Engine],
    grader: Grader,
    *,
    batch_size: int = 8,
    progress: ProgressSink | None = None,
    config_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run (or continue) an evaluation into `dirs`; returns the summary. The engine is made only if needed."""
    progress = progress or NoProgress()
    questions = load_questions(settings)
    if not dirs.config_path.is_file():
        dirs.write_config(settings, config_extra or {})
    engine: Engine | None = None

    def get_engine() -> Engine:
        nonlocal engine
        if engine is None:
            engine = make_engine()
        return engine

    benchmarks: dict[str, Any] = {}
    for name, rows in questions.items():
        result_path = dirs.result_path(name)
        if result_path.is_file() and dirs.scored_path(name).is_file():
            benchmarks[name] = summary_entry(json.loads(result_path.read_text(encoding="utf-8")))
            continue
        _generate(settings, name, rows, dirs, get_engine, batch_size, progress)
        spec = spec_of(name, settings.benchmarks.get(name))
        metrics = score_raw_file(
            dirs.raw_path(name), dirs.scored_path(name), grader, settings.pass_ks, progress, f"{name}: grading",
            spec.answer_type if spec else "latex",
        )
        result = {**_result_header(name, spec, settings.model, settings.mode), **metrics}
        _write_json(result_path, result)
        benchmarks[name] = summary_entry(result)
    summary = {
        "model": settings.model, "mode": settings.mode, "k": settings.k, "sampling": settings.sampling,
        "benchmarks": benchmarks,
    }
    _write_json(dirs.summary_path, summary)
    return summary


def bench_name(raw_path: Path) -> str:
    if not raw_path.name.endswith("_raw.jsonl") or raw_path.name == "_raw.jsonl":
        raise UserError(f"{raw_path}: expected a <bench>_raw.jsonl file, as `s2lpo eval` writes")
    return raw_path.name.removesuffix("_raw.jsonl")


def rescore(
    raw_paths: list[Path],
    grader: Grader,
    *,
    pass_ks: list[int] | None = None,
    progress: ProgressSink | None = None,
) -> tuple[dict[str, Any], Path]:
    """Grade raw files without any model. `<bench>.jsonl` goes beside each; `<bench>.json` and summary.json go
    to `result/<run>/` when the files sit in an eval's `output/<run>/`, else beside them. Returns the summary
    and the folder holding it."""
    progress = progress or NoProgress()
    names = [bench_name(p) for p in raw_paths]
    folders = {p.resolve().parent for p in raw_paths}
    if len(folders) != 1:
        raise UserError("--responses files must sit in one folder (one run); grade other folders separately")
    folder = folders.pop()
    try:
        dirs: RunDirs | None = RunDirs.under(folder.parent.parent, folder.name) if folder.parent.name == "output" else None
        settings = dirs.read_settings() if dirs is not None and dirs.config_path.is_file() else None
    except UserError:
        dirs, settings = None, None
    result_dir = dirs.result if settings is not None and dirs is not None else folder
    ks = pass_ks or (settings.pass_ks if settings else list(DEFAULT_PASS_KS))
    summary_path = result_dir / SUMMARY
    summary: dict[str, Any] = (
        json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() and settings else {
            "model": settings.model if settings else folder.name,
            "mode": settings.mode if settings else None,
            "k": settings.k if settings else None,
            "sampling": settings.sampling if settings else None,
            "benchmarks": {},
        }
    )
    for raw, name in zip(raw_paths, names, strict=True):
        # The benchmark the raw file belongs to picks the grader (CommonsenseQA: multiple choice).
        spec = spec_of(name, settings.benchmarks.get(name) if settings else None)
        metrics = score_raw_file(raw, raw.parent / f"{name}.jsonl", grader, ks, progress, f"{name}: grading",
                                 spec.answer_type if spec else "latex")
        result = {**_result_header(name, spec, summary["model"], summary["mode"]), **metrics}
        _write_json(result_dir / f"{name}.json", result)
        summary["benchmarks"][name] = summary_entry(result)
    if summary["k"] is None:
        summary["k"] = max(entry["k"] for entry in summary["benchmarks"].values())
    _write_json(summary_path, summary)
    return summary, result_dir
