"""`make reproduce-toy`: S2L-PO against plain GRPO on the synthetic task with the tiny models, 3 seeds each.

Both methods run recipes/tiny.yaml with the same steps, prompts per step and group size G (so the same
number of rollouts per step); S2L-PO takes G_w of each group from the explorer's offline rollouts, GRPO
samples all G from the target. Training goes through the public CLI (`s2lpo tiny init`, `sample`, `train`,
`report`); the held-out accuracy of every step's checkpoint is measured here, in one process: greedy
decoding of every held-out synthetic question (139 for seed 0), exact match of the boxed integer.

Everything lands in reproduce_toy/ (results.md, results.json, heldout_accuracy.png, report/); a rerun
continues where a killed one stopped (runs resume from their checkpoints, measured accuracies are kept).

    python scripts/reproduce_toy.py                 # the experiment (about 30 minutes on 2 CPU cores)
    python scripts/reproduce_toy.py --seeds 1 --steps 2 --quick   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from s2lpo_cli.recipe import load_recipe  # noqa: E402
from s2lpo_cli.reporting.training_log import load_training_log  # noqa: E402

METHODS = ("S2L-PO", "GRPO")
EXPERIMENT = ("rollout.group_size=8", "optim.prompts_per_step=16", "optim.mini_batch=16", "optim.micro_batch=64",
              "optim.lr=1e-3", "schedule.mode=mixed")


def s2lpo(args: list[str], cwd: Path) -> None:
    exe = Path(sys.executable).parent / "s2lpo"
    print(f"\n$ s2lpo {shlex.join(args)}", file=sys.stderr, flush=True)
    proc = subprocess.run([str(exe) if exe.is_file() else "s2lpo", *args], cwd=cwd)
    if proc.returncode:
        sys.exit(f"reproduce-toy stopped: `s2lpo {shlex.join(args)}` exited with {proc.returncode} (in {cwd})")


def shown_path(path: Path, cwd: Path) -> str:
    """`path` as the commands show it: relative to the folder they run in when that stays short."""
    rel = os.path.relpath(path, cwd)
    return rel if rel.count("..") <= 2 else str(path)


def run_dir(seed: int, method: str) -> str:
    return f"runs/seed{seed}" + ("_grpo" if method == "GRPO" else "")


# ------------------------------------------------------------------ held-out accuracy of every checkpoint


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    """(step, model folder) of every saved step, in order."""
    found = []
    for folder in sorted((run / "checkpoints").glob("step_*")):
        if folder.name.removeprefix("step_").isdigit() and (folder / "config.json").is_file():
            found.append((int(folder.name.removeprefix("step_")), folder))
    return found


class HeldoutScorer:
    """Greedy held-out accuracy of a model folder, cached in a JSON file (a rerun does not redo it)."""

    def __init__(self, tiny_dir: Path, cache: Path) -> None:
        from s2lpo_cli.engines.loading import load_tokenizer

        rows = [json.loads(line) for line in (tiny_dir / "data" / "heldout.jsonl").read_text().splitlines() if line]
        self.questions = [r["question"] for r in rows]
        self.answers = [r["answer"] for r in rows]
        self.families = [r.get("family", "all") for r in rows]
        self.tokenizer = load_tokenizer(str(tiny_dir / "target"))
        self.cache_path = cache
        self.cache: dict[str, dict[str, float]] = json.loads(cache.read_text()) if cache.is_file() else {}

    def score(self, model_dir: Path) -> dict[str, float]:
        key = f"{model_dir}@{(model_dir / 'model.safetensors').stat().st_mtime_ns}"  # a rebuilt model is rescored
        if key not in self.cache:
            import torch
            from transformers import AutoModelForCausalLM

            from s2lpo_cli.tiny.accuracy import is_correct, sample_responses

            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
            responses = sample_responses(model, self.tokenizer, self.questions, temperature=0.0, max_new_tokens=32)
            right: dict[str, list[bool]] = {}
            for response, answer, family in zip(responses, self.answers, self.families, strict=True):
                ok = is_correct(response, answer)
                right.setdefault("all", []).append(ok)
                right.setdefault(family, []).append(ok)
            self.cache[key] = {name: sum(oks) / len(oks) for name, oks in sorted(right.items())}
            tmp = self.cache_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.cache, indent=1))
            os.replace(tmp, self.cache_path)
        return self.cache[key]


# ------------------------------------------------------------------ aggregation


def mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    xs = [v for v in values if v is not None]
    if not xs:
        return None, None
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def fmt(pair: tuple[float | None, float | None], pct: bool = False, digits: int = 3) -> str:
    m, s = pair
    if m is None:
        return "—"
    return f"{100 * m:.1f} ± {100 * s:.1f}" if pct else f"{m:.{digits}f} ± {s:.{digits}f}"


def collect(work: Path, seeds: list[int], steps: int, scorer: HeldoutScorer, base_acc: dict[str, float]) -> dict:
    per_method: dict[str, Any] = {}
    for method in METHODS:
        runs = []
        for seed in seeds:
            folder = work / run_dir(seed, method)
            log = load_training_log(folder)
            acc = {0: base_acc} | {step: scorer.score(path) for step, path in checkpoints(folder)}
            runs.append({
                "seed": seed,
                "reward": {s.step: s.reward_mean for s in log.steps},
                "reward_target": {s.step: s.reward_target for s in log.steps},
                "heldout": {step: a["all"] for step, a in acc.items()},
                "heldout_by_family": acc[max(acc)],
                "target_tokens": sum(s.target_tokens or 0 for s in log.steps),
                "train_time_s": sum(s.step_time_s or 0 for s in log.steps),
            })
        table = []
        for step in range(0, steps + 1):
            table.append({
                "step": step,
                "reward": mean_std([r["reward"].get(step) for r in runs]),
                "reward_target": mean_std([r["reward_target"].get(step) for r in runs]),
                "heldout": mean_std([r["heldout"].get(step) for r in runs]),
            })
        families = sorted(runs[0]["heldout_by_family"])
        per_method[method] = {
            "runs": runs,
            "per_step": table,
            "target_tokens": mean_std([r["target_tokens"] for r in runs]),
            "train_time_s": mean_std([r["train_time_s"] for r in runs]),
            "final_heldout_by_family": {f: mean_std([r["heldout_by_family"].get(f) for r in runs]) for f in families},
        }
    return per_method


def markdown(results: dict, seeds: list[int], settings: str, base_acc: dict[str, float]) -> str:
    s2l, grpo = results["S2L-PO"], results["GRPO"]
    lines = [
        f"S2L-PO vs GRPO on the synthetic task, tiny models, seeds {', '.join(map(str, seeds))} "
        f"(mean ± std over seeds). {settings}",
        "",
        "| step | reward S2L-PO | reward GRPO | target-part reward S2L-PO | held-out acc S2L-PO (%) | held-out acc GRPO (%) |",
        "|---|---|---|---|---|---|",
    ]
    for a, b in zip(s2l["per_step"], grpo["per_step"], strict=True):
        lines.append(f"| {a['step']} | {fmt(a['reward'])} | {fmt(b['reward'])} | {fmt(a['reward_target'])} | "
                     f"{fmt(a['heldout'], pct=True)} | {fmt(b['heldout'], pct=True)} |")
    lines += [
        "",
        "| | S2L-PO | GRPO |",
        "|---|---|---|",
        f"| target-generated tokens (whole run) | {fmt(s2l['target_tokens'], digits=0)} | {fmt(grpo['target_tokens'], digits=0)} |",
        f"| training time, s | {fmt(s2l['train_time_s'], digits=0)} | {fmt(grpo['train_time_s'], digits=0)} |",
    ]
    for family in s2l["final_heldout_by_family"]:
        if family == "all":
            continue
        lines.append(f"| final held-out acc, {family} (%) (base target {100 * base_acc.get(family, 0):.1f}) | "
                     f"{fmt(s2l['final_heldout_by_family'][family], pct=True)} | "
                     f"{fmt(grpo['final_heldout_by_family'][family], pct=True)} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, method in enumerate(METHODS):
        rows = results[method]["per_step"]
        for ax, key, label in ((axes[0], "reward", "training reward (whole group)"),
                               (axes[1], "heldout", "held-out accuracy, greedy")):
            pts = [(r["step"], *r[key]) for r in rows if r[key][0] is not None]
            x, m, s = [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]
            ax.plot(x, m, "-o", color=f"C{i}", markersize=4, label=method)
            ax.fill_between(x, [a - b for a, b in zip(m, s, strict=True)], [a + b for a, b in zip(m, s, strict=True)],
                            color=f"C{i}", alpha=0.2)
            ax.set(xlabel="step", ylabel=label)
            ax.grid(alpha=0.3)
            ax.legend()
    fig.suptitle("S2L-PO vs GRPO, tiny models (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------ the experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "reproduce_toy", help="work folder (default: reproduce_toy/)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method (default 3)")
    parser.add_argument("--steps", type=int, default=8, help="logical training steps (default 8)")
    parser.add_argument("--anneal", type=int, default=4, help="N: steps over which alpha falls 1 -> 0 (default 4)")
    parser.add_argument("--prompts", type=int, default=64, help="training prompts (data.limit; default 64)")
    parser.add_argument("--quick", action="store_true", help="quick tiny warm-up (smoke runs only)")
    args = parser.parse_args()
    work = args.out.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    recipe = shown_path(REPO / "recipes" / "tiny.yaml", work)
    anneal = min(args.anneal, args.steps)
    # Every setting the comparison depends on is pinned here, not taken from the shipped recipe's defaults.
    sets = [f"data.limit={args.prompts}", f"schedule.total_steps={args.steps}", f"schedule.anneal_steps={anneal}",
            *EXPERIMENT, "output.save_every=1"]
    set_args = [a for s in sets for a in ("--set", s)]
    seeds = list(range(args.seeds))

    if not (work / "tiny_models" / "build.json").is_file():
        s2lpo(["tiny", "init", "tiny_models", *(["--quick"] if args.quick else []), "--force"], work)
    s2lpo(["sample", "--explorer", "tiny_models/explorer", "--recipe", recipe, *set_args], work)
    for seed in seeds:
        for method in METHODS:
            extra = ["--baseline"] if method == "GRPO" else []
            s2lpo(["train", recipe, *set_args, "--set", f"optim.seed={seed}",
                   "--set", f"output.run_dir={run_dir(seed, 'S2L-PO')}", *extra], work)

    print("\nheld-out accuracy of every checkpoint (greedy, all held-out questions) ...", file=sys.stderr, flush=True)
    scorer = HeldoutScorer(work / "tiny_models", work / "heldout_accuracy.json")
    base_acc = scorer.score(work / "tiny_models" / "target")
    results = collect(work, seeds, args.steps, scorer, base_acc)
    s2lpo(["report", *[run_dir(s, m) for s in seeds for m in METHODS], "--out", "report",
           "--baseline", run_dir(0, "GRPO").split("/")[-1]], work)

    r = load_recipe(REPO / "recipes" / "tiny.yaml", sets)
    settings = (f"recipes/tiny.yaml: G = {r.rollout.group_size} responses per prompt, {r.optim.prompts_per_step} prompts "
                f"per step, {args.steps} steps, N = {anneal}, {args.prompts} training prompts, lr {r.optim.lr:g}; "
                "`make reproduce-toy`.")
    text = markdown(results, seeds, settings, base_acc)
    (work / "results.md").write_text(text)
    (work / "results.json").write_text(json.dumps({"settings": sets, "seeds": seeds, "base_heldout": base_acc,
                                                   "results": results}, indent=1))
    plot(results, work / "heldout_accuracy.png")
    print("\n" + text)
    print(f"reproduce-toy finished in {(time.monotonic() - started) / 60:.1f} min; {work / 'results.md'}, "
          f"{work / 'heldout_accuracy.png'}, per-run report in {work / 'report' / 'report.md'}")


if __name__ == "__main__":
    main()
