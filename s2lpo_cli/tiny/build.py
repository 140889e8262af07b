"""Build the tiny pair: tokenizer, explorer and target, their warm-up, the synthetic data files.

Layout of DIR: explorer/ and target/ (HF save_pretrained: safetensors, config, generation config and the
same tokenizer), data/train.jsonl and data/heldout.jsonl, and build.json (what was built, how long it took,
accuracy). The warm-up draws from every problem of the task, as pretraining covers what RL later trains
on; "held-out" means never an RL training prompt. The target is warmed up on few linear equations, so
early on the explorer solves a family of problems the target does not yet solve reliably (as a 1.7B
explorer does for an 8B target).

The `transfer` task's target never sees its `chain` family in the warm-up, and neither model sees a
held-out chain problem: the explorer solves some chains, the target almost none (docs/toy.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Empty
from typing import Any

from s2lpo_cli.errors import UserError
from s2lpo_cli.tiny import task
from s2lpo_cli.tiny.models import EXPLORER_SIZE, TARGET_SIZE, count_params, new_model
from s2lpo_cli.tiny.warmup import WarmupPlan, warm_up

MODELS = ("explorer", "target")
OUTPUTS = (*MODELS, "data")
MANIFEST = "build.json"
EVAL_SIZE = 200  # train questions for the accuracy in build.json (held-out: all of them)

# arith: the target sees linear equations in only 3% of its warm-up examples, and fewer steps: it starts
# weaker. The full target warms up for 600 steps: at 230 (the first setting) its loss was still 0.43 and it
# answered 10% of the training questions at temperature 1, so 60-70% of GRPO's groups had no reward
# variance and RL had almost nothing to learn from; at 600 steps it answers about half (loss 0.02).
# transfer: the target never sees a chain (`a + b - c`) but sees its sibling sum3 (`a + b + c`, the same
# worked two-step format) as often as each fact family; the explorer sees chains (train split) twice as often
# as each fact family and no sum3, so that it solves held-out chains it never saw (docs/toy.md).
_PLANS = {
    ("arith", "full"): (WarmupPlan(steps=350), WarmupPlan(steps=600, family_weights={"linear": 0.03})),
    ("arith", "quick"): (WarmupPlan(steps=150), WarmupPlan(steps=100, family_weights={"linear": 0.03})),
    ("transfer", "full"): (
        WarmupPlan(steps=500, family_weights={"chain": 2.0, "sum3": 0.0}),
        WarmupPlan(steps=600, family_weights={"chain": 0.0, "sum3": 1.0}),
    ),
    ("transfer", "quick"): (
        WarmupPlan(steps=150, family_weights={"chain": 2.0, "sum3": 0.0}),
        WarmupPlan(steps=100, family_weights={"chain": 0.0, "sum3": 1.0}),
    ),
}


def warmup_plan(task_name: str, profile: str, model: str) -> WarmupPlan:
    return _PLANS[(task_name, profile)][MODELS.index(model)]


Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class ModelReport:
    name: str
    params: int
    warmup_steps: int
    warmup_seconds: float
    cpu_seconds: float  # CPU time of the whole job (warm-up, accuracy, save): its wall time on a free core
    final_loss: float
    train_accuracy: dict[str, float]  # per family and "all", one sample per question at temperature 1
    heldout_accuracy: dict[str, float]


@dataclass(frozen=True)
class BuildResult:
    out_dir: str
    seed: int
    profile: str
    task: str
    fingerprint: str
    tokenizer_hash: str
    seconds: float
    models: list[ModelReport]


def fingerprint(seed: int, profile: str, task_name: str = task.DEFAULT_TASK) -> str:
    """Identity of a build: task, seed, profile and the source of this package (a code change rebuilds)."""
    digest = hashlib.sha256(f"{task_name}:{seed}:{profile}".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _save(model: Any, tokenizer: Any, path: Path) -> None:
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id], pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    # A class name transformers 4.x knows as well (vLLM may run on it); 5.x maps it to the same backend.
    config_path = path / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2) + "\n")


def _warm_and_save(
    name: str, seed: int, profile: str, task_name: str, staging: Path, progress: Progress
) -> ModelReport:
    """Warm up one model from the staged tokenizer, measure its accuracy, save it to staging/name."""
    import torch
    from transformers import AutoTokenizer

    from s2lpo_cli.tiny.accuracy import accuracy_by_family

    torch.set_num_threads(1)  # tiny matrices: one thread each is faster than threads that contend
    cpu_start = time.process_time()
    tokenizer = AutoTokenizer.from_pretrained(staging / "tokenizer")
    plan = warmup_plan(task_name, profile, name)
    model_seed = seed + MODELS.index(name)
    model = new_model(EXPLORER_SIZE if name == "explorer" else TARGET_SIZE, tokenizer, model_seed)
    families = (*task.TASKS[task_name], *task.WARMUP_ONLY[task_name])
    pools = {family: task.warmup_problems(family, seed) for family in families}
    start = time.perf_counter()
    losses = warm_up(
        model,
        tokenizer,
        pools,
        plan,
        model_seed,
        on_step=lambda step, _loss: progress(f"warm-up {name}", step + 1, plan.steps),
    )
    seconds = time.perf_counter() - start
    evals = {
        "train": task.problems(seed, "train", EVAL_SIZE, task_name),
        "heldout": task.problems(seed, "heldout", task=task_name),
    }
    accuracy = {
        split: accuracy_by_family(model, tokenizer, problems, temperature=1.0, seed=seed)
        for split, problems in evals.items()
    }
    _save(model, tokenizer, staging / name)
    return ModelReport(
        name,
        count_params(model),
        plan.steps,
        round(seconds, 1),
        round(time.process_time() - cpu_start, 1),
        round(losses[-1], 4),
        accuracy["train"],
        accuracy["heldout"],
    )


_progress_queue: Any = None


def _init_worker(queue: Any) -> None:
    global _progress_queue
    _progress_queue = queue


def _worker(name: str, seed: int, profile: str, task_name: str, staging: str) -> ModelReport:
    from transformers.utils import logging

    logging.disable_progress_bar()  # a worker process: its bars would interleave with the parent's
    return _warm_and_save(
        name, seed, profile, task_name, Path(staging), lambda *update: _progress_queue.put(update)
    )


def _warm_both(seed: int, profile: str, task_name: str, staging: Path, progress: Progress) -> list[ModelReport]:
    """Both warm-ups, in two processes at once when there are two cores."""
    if (os.cpu_count() or 1) < 2:
        return [_warm_and_save(name, seed, profile, task_name, staging, progress) for name in MODELS]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    with ProcessPoolExecutor(
        len(MODELS), mp_context=context, initializer=_init_worker, initargs=(queue,)
    ) as pool:
        futures = [pool.submit(_worker, name, seed, profile, task_name, str(staging)) for name in MODELS]
        while not all(f.done() for f in futures) or not queue.empty():
            try:
                progress(*queue.get(timeout=0.2))
            except Empty:
                pass
        return [f.result() for f in futures]


def refuse_existing(out: Path, force: bool) -> None:
    """A UserError if `out` holds (part of) a pair and `force` is off: nothing is overwritten unasked."""
    existing = [name for name in (*OUTPUTS, MANIFEST) if (out / name).exists()]
    if existing and not force:
        raise UserError(f"{out} already holds {', '.join(existing)}; pass --force to replace it")


def move_into_place(staging: Path, out: Path, names: tuple[str, ...]) -> None:
    """Replace out/<name> by staging/<name> for each name; build.json last (its presence marks a whole pair)."""
    (out / MANIFEST).unlink(missing_ok=True)
    for name in names:
        if (out / name).is_dir():
            shutil.rmtree(out / name)
        os.replace(staging / name, out / name)
    os.replace(staging / MANIFEST, out / MANIFEST)


def build_tiny(
    out_dir: str | Path,
    seed: int = task.DEFAULT_SEED,
    profile: str = "full",
    force: bool = False,
    progress: Progress | None = None,
    task_name: str = task.DEFAULT_TASK,
) -> BuildResult:
    """Build the tiny pair into out_dir (refused over an existing build unless force)."""
    from s2lpo_cli.prompting import tokenizer_hash
    from s2lpo_cli.tiny.tokenizer import train_tokenizer

    out = Path(out_dir)
    refuse_existing(out, force)
    start = time.perf_counter()
    every = [p for family in task.TASKS[task_name] for p in task.family_problems(family)]
    tokenizer = train_tokenizer(
        [p.question for p in every] + [p.response(thinking=i % 4 == 0) for i, p in enumerate(every)]
    )
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".building-") as tmp:
        staging = Path(tmp)
        tokenizer.save_pretrained(staging / "tokenizer")
        reports = _warm_both(seed, profile, task_name, staging, progress or (lambda *_: None))
        (staging / "data").mkdir()
        _write_jsonl(staging / "data" / "train.jsonl", task.rows(seed, "train", task=task_name))
        _write_jsonl(staging / "data" / "heldout.jsonl", task.rows(seed, "heldout", task=task_name))
        result = BuildResult(
            str(out),
            seed,
            profile,
            task_name,
            fingerprint(seed, profile, task_name),
            tokenizer_hash(tokenizer),
            round(time.perf_counter() - start, 1),
            reports,
        )
        (staging / MANIFEST).write_text(json.dumps(asdict(result), indent=2) + "\n")
        move_into_place(staging, out, OUTPUTS)
    return result


def ensure_tiny(out_dir: str | Path, seed: int = task.DEFAULT_SEED, profile: str = "quick") -> Path:
    """Reuse the build in out_dir if it matches (seed, profile, this code), else build it (process-safe).

    The tests' check that the build code still builds a working pair; everything else uses the shipped pair.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = out / MANIFEST
        if manifest.is_file() and json.loads(manifest.read_text()).get("fingerprint") == fingerprint(
            seed, profile
        ):
            return out
        build_tiny(out, seed=seed, profile=profile, force=True)
    return out
