"""Checks of the recipe's `validation` section, for both engines, before anything is written.

Every benchmark must be registered (eval_data/) or a file that exists; a registered one needs its local
file under `validation.data_dir`, or a hub source and the `datasets` package to fetch it. A strict check
(a training run or a launch) also loads the questions, so bad rows fail here; a dry run reports data
that is not on this machine as `not_checked`. An `every` beyond the run's steps is a warning
(`validation_warnings`), not a finding: the run still validates before training and after its last step.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from s2lpo_cli.data.benchmarks import BenchmarkSpec, registered
from s2lpo_cli.data.hub import has_datasets
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.validation import entry_name, eval_settings, is_file_entry
from s2lpo_cli.preflight.findings import Finding, Severity
from s2lpo_cli.recipe import Recipe

FIELD = "validation.benchmarks"


def _missing_local(spec: BenchmarkSpec, data_dir: str) -> str | None:
    """Why a registered benchmark cannot be loaded here, or None when it can."""
    local = Path(data_dir).resolve() / spec.file
    if local.is_file():
        return None
    looked = f"{spec.name}: no local file {local} (validation.data_dir: {data_dir})"
    if spec.hub is None:
        return f"{looked}, and it has no hub source; put {spec.file} there or point validation.data_dir at its folder"
    if not has_datasets():
        return (f"{looked}, and the `datasets` package that fetches {spec.hub.dataset} from the hub is not installed; "
                f"put {spec.file} there or pip install datasets")
    return None


def _entry_problem(entry: str, specs: dict[str, BenchmarkSpec], data_dir: str) -> tuple[str, str] | None:
    """(finding code, message) for one `validation.benchmarks` entry, or None."""
    if is_file_entry(entry):
        path = Path(entry)
        if not path.is_file():
            return "validation.no_file", f"{entry}: no such file (looked at {path.resolve()})"
        return None
    if entry not in specs:
        close = difflib.get_close_matches(entry, list(specs), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return ("validation.unknown_benchmark",
                f"unknown benchmark {entry!r}.{hint} Registered (eval_data/): {', '.join(specs)}; "
                "or give a path to a jsonl/parquet file of {question, answer} rows")
    problem = _missing_local(specs[entry], data_dir)
    return ("validation.no_data", problem) if problem else None


def check_validation(recipe: Recipe, *, strict: bool, engine: str = "embedded", tokenizer: Any = None) -> list[Finding]:
    """Findings of the validation section; none when validation is off. With verl and the target's tokenizer,
    prompts longer than data.max_prompt_tokens are refused (verl's loader stops on them; `s2lpo eval` skips them)."""
    v = recipe.validation
    if not v.enabled:
        return []
    specs = registered()
    findings: list[Finding] = []
    names: dict[str, str] = {}
    for entry in v.benchmarks:
        name = entry_name(entry)
        if name in names:
            findings.append(Finding("validation.duplicate", FIELD, f"{entry} and {names[name]} both give results named "
                                    f"{name!r}; rename one file"))
        names[name] = entry
        problem = _entry_problem(entry, specs, v.data_dir)
        if problem:
            code, message = problem
            missing_here = code in ("validation.no_file", "validation.no_data")
            severity: Severity = "error" if strict or not missing_here else "not_checked"
            findings.append(Finding(code, FIELD, message, severity))
        elif engine == "verl" and entry in specs and specs[entry].answer_type == "choice":
            findings.append(Finding("validation.verl_choice", FIELD, f"{entry} is multiple choice; verl scores "
                                    "validation with the math reward function, which does not grade choices. "
                                    "Validate it with the embedded engine or evaluate checkpoints with `s2lpo eval`"))
    if engine == "verl" and (v.mode == "think") != recipe.data.prompt.enable_thinking:
        findings.append(Finding("validation.verl_mode", "validation.mode",
                                f"{v.mode}: verl renders every prompt with data.prompt.enable_thinking "
                                f"({recipe.data.prompt.enable_thinking}); set validation.mode to "
                                f"{'think' if recipe.data.prompt.enable_thinking else 'nothink'}"))
    if not findings and (strict or tokenizer is not None):
        findings += _load_problems(recipe, tokenizer if engine == "verl" else None)
    return findings


def _load_problems(recipe: Recipe, verl_tokenizer: Any) -> list[Finding]:
    """Load every benchmark's questions (as the run will): bad rows are an error naming file and line."""
    from s2lpo_cli.evaluation.runner import load_questions

    settings = eval_settings(recipe)
    try:
        questions = load_questions(settings)
    except UserError as exc:
        return [Finding("validation.bad_data", FIELD, str(exc))]
    return [] if verl_tokenizer is None else _too_long(recipe, settings, questions, verl_tokenizer)


def _too_long(recipe: Recipe, settings: Any, questions: dict[str, list[Any]], tokenizer: Any) -> list[Finding]:
    from s2lpo_cli.prompting import build_messages, encode_prompt

    limit, findings = recipe.data.max_prompt_tokens, []
    for name, rows in questions.items():
        instruction = settings.instruction_for(name)
        lengths = [len(encode_prompt(tokenizer, build_messages(r.question, instruction), settings.mode == "think"))
                   for r in rows]
        over = [n for n in lengths if n > limit]
        if over:
            findings.append(Finding("validation.prompt_too_long", "data.max_prompt_tokens",
                                    f"{len(over)} of {name}'s {len(rows)} validation prompts are longer than {limit} "
                                    f"tokens (longest {max(over)}); verl stops on them: raise data.max_prompt_tokens "
                                    "or validate on other questions"))
    return findings


def validation_warnings(recipe: Recipe) -> list[str]:
    """Settings that run but probably not as meant."""
    v, total = recipe.validation, recipe.schedule.total_steps
    if v.enabled and v.every > total:
        before = "before training and " if v.before_train else ""
        return [f"validation.every: {v.every} > schedule.total_steps {total}: validation runs only {before}after the "
                f"last step; lower it to validate during training"]
    return []
