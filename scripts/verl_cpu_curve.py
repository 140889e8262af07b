"""`make verl-curve`: GRPO and S2L-PO through verl's own trainer on CPU, beside the embedded trainer.

Four runs of the tiny recipe's settings (fewer steps), same seed: {S2L-PO, GRPO} x {embedded, verl on
CPU}, all through the public CLI. `s2lpo report` puts their target-reward curves on one plot; this script
adds each run's median seconds per step and writes results.md. Not a CI job: about 15-25 minutes on 2 cores.

    python scripts/verl_cpu_curve.py                          # -> verl_cpu_curve/ (results.md, report/)
    python scripts/verl_cpu_curve.py --steps 6 --anneal 3     # shorter
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = {  # name -> (recipe, extra train flags); --baseline appends _grpo to the run folder
    "s2lpo_embedded": ("tiny", []),
    "grpo_embedded_grpo": ("tiny", ["--baseline"]),
    "s2lpo_verl": ("tiny_verl", []),
    "grpo_verl_grpo": ("tiny_verl", ["--baseline"]),
}


def s2lpo(out: Path, *args: str) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", S2LPO_THREADS="1", HF_HUB_OFFLINE="1")
    print("$ s2lpo", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "s2lpo_cli.cli.app", *args], cwd=out, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "verl_cpu_curve")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--anneal", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", type=Path, help="an existing tiny pair to use instead of `s2lpo tiny init`")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "tiny_models").exists():
        if args.models:
            (out / "tiny_models").symlink_to(args.models.resolve(), target_is_directory=True)
        else:
            s2lpo(out, "tiny", "init", "tiny_models")
    s2lpo(out, "sample", "--explorer", "tiny_models/explorer", "--recipe", "tiny")
    shared = ["--set", f"schedule.total_steps={args.steps}", "--set", f"schedule.anneal_steps={args.anneal}",
              "--set", f"optim.seed={args.seed}", "--set", "output.save_every=0"]
    wall = {}
    for name, (recipe, extra) in RUNS.items():
        run = out / "runs" / name
        if not (run / "final").exists():
            start = time.monotonic()
            run_dir = name.removesuffix("_grpo") if "--baseline" in extra else name
            s2lpo(out, "train", recipe, *extra, *shared, "--set", f"output.run_dir=runs/{run_dir}")
            wall[name] = time.monotonic() - start
    s2lpo(out, "report", *(f"runs/{name}" for name in RUNS), "--out", "report")
    lines = ["| run | engine | steps | median s/step | final target reward (mean of last 5 steps) | wall s |",
             "|---|---|---|---|---|---|"]
    for name in RUNS:
        rows = [json.loads(x) for x in (out / "runs" / name / "metrics.jsonl").read_text().splitlines()]
        step_s = statistics.median(r["step_time_s"] for r in rows)
        rewards = [r["reward_target"] for r in rows if r.get("reward_target") is not None][-5:]
        final = sum(rewards) / len(rewards) if rewards else float("nan")
        lines.append(f"| {name} | {'verl (CPU)' if 'verl' in name else 'embedded'} | {len(rows)} | {step_s:.2f} | "
                     f"{final:.3f} | {wall.get(name, float('nan')):.0f} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
