"""`make demo`: the whole S2L-PO pipeline on tiny local models, every step through the public `s2lpo` CLI.

lay out the shipped tiny explorer and target -> explorer rollouts -> train S2L-PO and plain GRPO -> evaluate the base
target and both trained models (held-out synthetic set; a slice of MATH-500 when ../shared/data has it)
-> report. Each command is printed before it runs, in the folder it runs in (the demo folder), so the demo
doubles as a walk-through of the CLI. The demo folder is rebuilt from scratch on every run.

    python scripts/demo.py              # the full demo (3.1 min on 2 CPU cores shared with other jobs)
    python scripts/demo.py --small      # a smaller pipeline, same commands (the CI test runs this)
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
MARKER = ".s2lpo-demo"  # only a folder holding this is ever deleted


@dataclass(frozen=True)
class Size:
    """How big the demo is: the recipe overrides and evaluation sizes."""

    recipe_set: tuple[str, ...]  # --set overrides of recipes/tiny.yaml, for `sample` and `train` alike
    eval_k: int
    eval_limit: int  # questions of each benchmark


# 30 steps of 16 prompts at the recipe's lr (1e-4), N = 10: long enough that training moves the target
# (a shorter run is within noise of the base), short enough for a demo.
FULL = Size(
    recipe_set=("data.limit=160", "schedule.total_steps=30", "schedule.anneal_steps=10", "output.save_every=0"),
    eval_k=4,
    eval_limit=139,  # every held-out question
)
SMALL = Size(
    recipe_set=("data.limit=8", "schedule.total_steps=2", "schedule.anneal_steps=1", "rollout.group_size=4",
                "optim.prompts_per_step=4", "optim.mini_batch=4", "validation.every=1", "validation.limit=4"),
    eval_k=2,
    eval_limit=4,
)


@dataclass(frozen=True)
class Step:
    title: str
    args: list[str]


def s2lpo_executable() -> str:
    """The `s2lpo` entry point of the environment running this script (the venv under `make demo`)."""
    beside = Path(sys.executable).parent / "s2lpo"
    return str(beside) if beside.is_file() else "s2lpo"


def shown_path(path: Path, cwd: Path) -> str:
    """`path` as the commands show it: relative to the folder they run in when that stays short."""
    rel = os.path.relpath(path, cwd)
    return rel if rel.count("..") <= 2 else str(path)


def pipeline(size: Size, demo_dir: Path, with_math500: bool) -> list[Step]:
    recipe = shown_path(REPO / "recipes" / "tiny.yaml", demo_dir)
    sets = [a for s in size.recipe_set for a in ("--set", s)]
    heldout = "tiny_models/data/heldout.jsonl"
    eval_common = ["--mode", "nothink", "--k", str(size.eval_k), "--max-tokens", "32", "--temperature", "1.0",
                   "--batch-size", "64"]
    models = [("the base target", "tiny_models/target", "evals/base_target"),
              ("the S2L-PO model", "runs/tiny/final", "runs/tiny/eval"),
              ("the GRPO model", "runs/tiny_grpo/final", "runs/tiny_grpo/eval")]
    steps = [
        Step("Lay out the shipped tiny explorer and target", ["tiny", "init", "tiny_models"]),
        Step("Explorer rollouts on the synthetic training task",
             ["sample", "--explorer", "tiny_models/explorer", "--recipe", recipe, *sets]),
        Step("Train the target with S2L-PO", ["train", recipe, *sets]),
        Step("Train the target with plain GRPO (the baseline)", ["train", recipe, *sets, "--baseline"]),
    ]
    math500 = ["--benchmarks", "math500", "--data-dir", shown_path(SHARED_DATA, demo_dir)] if with_math500 else []
    what = "the held-out synthetic set" + (" and a slice of MATH-500" if with_math500 else "")
    for label, model, out in models:
        steps.append(Step(f"Evaluate {label} on {what}",
                          ["eval", "--model", model, "--benchmark-file", heldout, *math500, "--limit",
                           str(size.eval_limit), *eval_common, "--output", out]))
    steps.append(Step("Compare everything", ["report", "evals/base_target", "runs/tiny", "runs/tiny_grpo",
                                             "--out", "report", "--baseline", "tiny_grpo"]))
    return steps


def fresh_folder(demo_dir: Path) -> None:
    if demo_dir.exists():
        if not (demo_dir / MARKER).is_file():
            sys.exit(f"{demo_dir} exists and was not made by the demo; choose another --out or remove it")
        shutil.rmtree(demo_dir)
    demo_dir.mkdir(parents=True)
    (demo_dir / MARKER).write_text("made by scripts/demo.py; deleted and rebuilt by every demo run\n")


def run(steps: list[Step], demo_dir: Path) -> list[tuple[str, float]]:
    exe = s2lpo_executable()
    start, times = time.monotonic(), []
    for i, step in enumerate(steps, 1):
        bold, plain = ("\033[1m", "\033[0m") if sys.stderr.isatty() else ("", "")
        print(f"\n{bold}[{i}/{len(steps)}] {step.title}{plain}  ({time.monotonic() - start:.0f} s so far)", file=sys.stderr)
        print(f"$ s2lpo {shlex.join(step.args)}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        proc = subprocess.run([exe, *step.args], cwd=demo_dir)  # output streams straight through
        if proc.returncode:
            sys.exit(f"demo stopped: `s2lpo {shlex.join(step.args)}` exited with {proc.returncode} (in {demo_dir})")
        times.append((step.title, time.monotonic() - t0))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "demo", help="demo folder (default: demo/ in the repo)")
    parser.add_argument("--small", action="store_true", help="a smaller pipeline with the same commands (CI)")
    parser.add_argument("--no-math500", action="store_true", help="skip the MATH-500 slice even if its data is present")
    args = parser.parse_args()
    demo_dir = args.out.resolve()
    with_math500 = (SHARED_DATA / "math500.jsonl").is_file() and not args.no_math500
    steps = pipeline(SMALL if args.small else FULL, demo_dir, with_math500)
    fresh_folder(demo_dir)
    print(f"s2lpo demo: {len(steps)} steps in {demo_dir}" + ("" if with_math500 else
          f" (no MATH-500 slice: {SHARED_DATA / 'math500.jsonl'} not found)"), file=sys.stderr)
    times = run(steps, demo_dir)
    total = sum(t for _, t in times)
    print("\nStep times:", file=sys.stderr)
    for title, seconds in times:
        print(f"  {seconds:7.1f} s  {title}", file=sys.stderr)
    print(f"  {total:7.1f} s  total", file=sys.stderr)
    report = demo_dir / "report" / "report.md"
    print(f"\nDemo finished in {total / 60:.1f} min. Report: {report}  (plots and report.json beside it)")


if __name__ == "__main__":
    main()
