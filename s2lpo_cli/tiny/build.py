"""Build the tiny pair: tokenizer, explorer and target, their warm-up, the synthetic data files.

Layout of DIR: explorer/ and target/ (HF save_pretrained: safetensors, config, generation config and the
same tokenizer), data/train.jsonl and data/heldout.jsonl, and build.json (what was built, how long it took,
accuracy). The warm-up draws from every problem of the task, as pretraining covers what RL later trains on;
"held-out" means never an RL training prompt. The target is warmed up on few linear equations, so early on the explorer solves a
family of problems the target does not yet solve reliably (as a 1.7B explorer does for an 8B target).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from s2lpo_cli.errors import UserError
from s2lpo_cli.tiny import task
from s2lpo_cli.tiny.models import EXPLORER_SIZE, TARGET_SIZE, count_params, new_model
from s2lpo_cli.tiny.warmup import WarmupPlan, warm_up

OUTPUTS = ("explorer", "target", "data")
MANIFEST = "build.json"
EVAL_SIZE = 200  # questions per split for the accuracy in build.json

# The target sees linear equations in only 3% of its warm-up examples: it starts weak there.
_TARGET_WEIGHTS = {"add": 1.0, "sub": 1.0, "mul": 1.0, "linear": 0.03}
PROFILES = {
    "full": {"explorer": WarmupPlan(steps=250), "target": WarmupPlan(steps=150, family_weights=_TARGET_WEIGHTS)},
    "quick": {"explorer": WarmupPlan(steps=100), "target": WarmupPlan(steps=60, family_weights=_TARGET_WEIGHTS)},
}

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class ModelReport:
    name: str
    params: int
    warmup_steps: int
    warmup_seconds: float
    final_loss: float
    train_accuracy: dict[str, float]  # per family and "all", one sample per question at temperature 1
    heldout_accuracy: dict[str, float]


@dataclass(frozen=True)
class BuildResult:
    out_dir: str
    seed: int
    profile: str
    fingerprint: str
    tokenizer_hash: str
    seconds: float
    models: list[ModelReport]


def fingerprint(seed: int, profile: str) -> str:
    """Identity of a build: the seed, the profile and the source of this package (a code change rebuilds)."""
    digest = hashlib.sha256(f"{seed}:{profile}".encode())
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


def _train_one(name: str, size: dict[str, int], plan: WarmupPlan, tokenizer: Any, seed: int,
               pools: dict[str, list[task.Problem]], evals: dict[str, list[task.Problem]],
               progress: Progress | None) -> tuple[Any, ModelReport]:
    from s2lpo_cli.tiny.accuracy import accuracy_by_family

    model = new_model(size, tokenizer, seed)
    start = time.perf_counter()
    losses = warm_up(model, tokenizer, pools, plan, seed,
                     on_step=(lambda step, _loss: progress(f"warm-up {name}", step + 1, plan.steps)) if progress else None)
    seconds = time.perf_counter() - start
    if progress:
        progress(f"held-out accuracy {name}", 0, 1)
    accuracy = {split: accuracy_by_family(model, tokenizer, problems, temperature=1.0, seed=seed)
                for split, problems in evals.items()}
    report = ModelReport(name, count_params(model), plan.steps, round(seconds, 1), round(losses[-1], 4),
                         accuracy["train"], accuracy["heldout"])
    return model, report


def build_tiny(out_dir: str | Path, seed: int = task.DEFAULT_SEED, profile: str = "full", force: bool = False,
               progress: Progress | None = None) -> BuildResult:
    """Build the tiny pair into out_dir (refused over an existing build unless force)."""
    import torch

    from s2lpo_cli.prompting import tokenizer_hash
    from s2lpo_cli.tiny.tokenizer import train_tokenizer

    out = Path(out_dir)
    existing = [name for name in (*OUTPUTS, MANIFEST) if (out / name).exists()]
    if existing and not force:
        raise UserError(f"{out} already holds {', '.join(existing)}; pass --force to rebuild")
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster than two that contend
    try:
        pools = {family: task.family_problems(family) for family in task.FAMILIES}
        every = [p for family in task.FAMILIES for p in pools[family]]
        tokenizer = train_tokenizer([p.question for p in every]
                                    + [p.response(thinking=i % 4 == 0) for i, p in enumerate(every)])
        evals = {"train": task.problems(seed, "train", EVAL_SIZE), "heldout": task.problems(seed, "heldout")}
        plans = PROFILES[profile]
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=".building-") as tmp:
            staging = Path(tmp)
            reports = []
            for offset, (name, size) in enumerate((("explorer", EXPLORER_SIZE), ("target", TARGET_SIZE))):
                model, report = _train_one(name, size, plans[name], tokenizer, seed + offset, pools, evals, progress)
                _save(model, tokenizer, staging / name)
                reports.append(report)
            (staging / "data").mkdir()
            _write_jsonl(staging / "data" / "train.jsonl", task.rows(seed, "train"))
            _write_jsonl(staging / "data" / "heldout.jsonl", task.rows(seed, "heldout"))
            result = BuildResult(str(out), seed, profile, fingerprint(seed, profile), tokenizer_hash(tokenizer),
                                 round(time.perf_counter() - start, 1), reports)
            (out / MANIFEST).unlink(missing_ok=True)
            for name in OUTPUTS:
                if (out / name).exists():
                    shutil.rmtree(out / name)
                os.replace(staging / name, out / name)
            (staging / MANIFEST).write_text(json.dumps(asdict(result), indent=2) + "\n")
            os.replace(staging / MANIFEST, out / MANIFEST)  # written last: its presence marks a complete build
    finally:
        torch.set_num_threads(threads)
    return result


def ensure_tiny(out_dir: str | Path, seed: int = task.DEFAULT_SEED, profile: str = "quick") -> Path:
    """Reuse the build in out_dir if it matches (seed, profile, this code), else build it; safe across processes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest = out / MANIFEST
        if manifest.is_file() and json.loads(manifest.read_text()).get("fingerprint") == fingerprint(seed, profile):
            return out
        build_tiny(out, seed=seed, profile=profile, force=True)
    return out
