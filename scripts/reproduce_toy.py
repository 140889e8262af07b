"""`make reproduce-toy`: S2L-PO against plain GRPO (and GRPO at a higher temperature) on the tiny models.

Every arm trains the same tiny target from recipes/tiny.yaml with the same steps, prompts per step and
group size G (the same number of responses per step); S2L-PO takes G_w of each group from the explorer's
offline rollouts while alpha anneals over the first N steps, GRPO samples all G from the target, and the
third arm is GRPO sampling at a higher temperature (token-level diversity instead of a second policy).
Training goes through the public CLI (`s2lpo tiny init`, `sample`, `train`, `report`); runs go side by
side, one per core (each trainer takes its share of the cores by itself). Every saved checkpoint is
scored on all held-out synthetic questions: K samples per question at temperature 1 (the mean is the
held-out accuracy, as the paper's avg@K Pass@1) and one greedy answer, exact match of the boxed integer.

Both tasks run by default (`--task arith` or `--task transfer` for one), each from its shipped pair, in
reproduce_toy/<task>/. Outputs in reproduce_toy/: results.json ({task: results}), results.md,
heldout_accuracy_<task>.png, and <task>/report/ (`s2lpo report`). A rerun continues where a killed one
stopped (finished runs and scored checkpoints are kept).

    python scripts/reproduce_toy.py                       # the experiment, both tasks
    python scripts/reproduce_toy.py --seeds 1 --steps 4 --anneal 2 --save-every 2 --quick --arms s2lpo grpo
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from s2lpo_cli.tiny.task import PROCEDURES, TASKS  # noqa: E402

SCORES = "heldout_scores.json"  # per run: {checkpoint step: {"sampled": {...}, "greedy": {...}}}


@dataclass(frozen=True)
class Arm:
    name: str
    label: str
    extra: tuple[str, ...]  # train flags beyond the shared settings
    stem: str  # output.run_dir is runs/<stem>_seed<N>; `--baseline` adds "_grpo" to the folder

    def output_dir(self, seed: int) -> str:
        return f"runs/{self.stem}seed{seed}"

    def folder(self, seed: int) -> str:
        return self.output_dir(seed) + ("_grpo" if "--baseline" in self.extra else "")


def arms(hot_temperature: float) -> dict[str, Arm]:
    return {
        "s2lpo": Arm("s2lpo", "S2L-PO", (), ""),
        "grpo": Arm("grpo", "GRPO", ("--baseline",), ""),
        "grpo_hot": Arm("grpo_hot", f"GRPO T={hot_temperature:g}",
                        ("--baseline", "--set", f"rollout.temperature={hot_temperature}"), "hot_"),
    }


def s2lpo_cmd() -> str:
    exe = Path(sys.executable).parent / "s2lpo"
    return str(exe) if exe.is_file() else "s2lpo"


def run_cli(args: list[str], cwd: Path, log: Path | None = None) -> None:
    print(f"$ s2lpo {shlex.join(args)}", file=sys.stderr, flush=True)
    if log is None:
        proc = subprocess.run([s2lpo_cmd(), *args], cwd=cwd)
    else:
        with log.open("a") as fh:
            proc = subprocess.run([s2lpo_cmd(), *args], cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode:
        where = f" (log: {log})" if log else ""
        sys.exit(f"reproduce-toy stopped: `s2lpo {shlex.join(args)}` exited with {proc.returncode}{where}")


# ------------------------------------------------------------------ held-out accuracy of a checkpoint


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    """(step, model folder) of every saved step, in order."""
    from s2lpo_cli.run_folder import CHECKPOINT_PREFIX, RunFolder

    found = []
    for folder in sorted(RunFolder(run).checkpoints.glob(f"{CHECKPOINT_PREFIX}*")):
        if folder.name.removeprefix(CHECKPOINT_PREFIX).isdigit() and (folder / "config.json").is_file():
            found.append((int(folder.name.removeprefix(CHECKPOINT_PREFIX)), folder))
    return found


def score_model(model_dir: Path, heldout: list[dict[str, str]], k: int, seed: int = 1234) -> dict[str, Any]:
    """Held-out accuracy per family: mean over k samples at temperature 1, and greedy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from s2lpo_cli.tiny.accuracy import is_correct, sample_responses

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    questions = [r["question"] for r in heldout]

    def by_family(responses: list[str]) -> dict[str, float]:
        right: dict[str, list[bool]] = {}
        for i, response in enumerate(responses):
            row = heldout[i % len(heldout)]
            ok = is_correct(response, row["answer"])
            right.setdefault("all", []).append(ok)
            right.setdefault(row.get("family", "all"), []).append(ok)
        return {name: sum(oks) / len(oks) for name, oks in sorted(right.items())}

    sampled = sample_responses(model, tokenizer, questions * k, temperature=1.0, seed=seed, batch_size=256)
    greedy = sample_responses(model, tokenizer, questions, temperature=0.0, batch_size=256)
    return {"sampled": by_family(sampled), "greedy": by_family(greedy)}


def score_run(work: Path, run: str, k: int) -> None:
    """Score every checkpoint of `run` not scored yet (kept in the run's heldout_scores.json)."""
    from transformers.utils import logging as hf_logging

    from s2lpo_cli.atomic import write_text_atomic
    from s2lpo_cli.training.threads import TrainerRegistry, apply_threads

    hf_logging.disable_progress_bar()

    folder = work / run
    path = folder / SCORES
    scores = json.loads(path.read_text()) if path.is_file() else {}
    heldout = [json.loads(line) for line in (work / "tiny_models/data/heldout.jsonl").read_text().splitlines() if line]
    with TrainerRegistry() as registry:  # side by side with trainers: take a fair share of the cores
        for step, model_dir in checkpoints(folder):
            if str(step) not in scores:
                apply_threads(registry)
                scores[str(step)] = score_model(model_dir, heldout, k)
                write_text_atomic(path, json.dumps(scores, indent=1) + "\n")


def score_base(work: Path, k: int) -> dict[str, Any]:
    path = work / "base_scores.json"
    if not path.is_file():
        heldout = [json.loads(line) for line in (work / "tiny_models/data/heldout.jsonl").read_text().splitlines()
                   if line]
        path.write_text(json.dumps(score_model(work / "tiny_models" / "target", heldout, k), indent=1) + "\n")
    return json.loads(path.read_text())


# ------------------------------------------------------------------ aggregation


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def collect(work: Path, chosen: list[Arm], seeds: list[int], base: dict[str, Any]) -> dict[str, Any]:
    from s2lpo_cli.run_folder import RunFolder
    from s2lpo_cli.training import metrics as metrics_file

    out: dict[str, Any] = {}
    for arm in chosen:
        by_step: dict[str, list[float]] = {"0": [base["sampled"]["all"]] * len(seeds)}
        greedy_by_step: dict[str, list[float]] = {"0": [base["greedy"]["all"]] * len(seeds)}
        family_final: dict[str, list[float]] = {}
        family_by_step: dict[str, dict[str, list[float]]] = {
            family: {"0": [acc] * len(seeds)} for family, acc in base["sampled"].items() if family != "all"
        }
        tokens, reward_target = [], []
        for seed in seeds:
            folder = work / arm.folder(seed)
            scores = json.loads((folder / SCORES).read_text())
            for step in sorted(scores, key=int):
                by_step.setdefault(step, []).append(scores[step]["sampled"]["all"])
                greedy_by_step.setdefault(step, []).append(scores[step]["greedy"]["all"])
                for family, by_family_step in family_by_step.items():
                    by_family_step.setdefault(step, []).append(scores[step]["sampled"][family])
            last = scores[max(scores, key=int)]["sampled"]
            for family, acc in last.items():
                family_final.setdefault(family, []).append(acc)
            rows = metrics_file.read(RunFolder(folder).metrics_path)
            tokens.append(sum(r["target_tokens"] for r in rows))
            reward_target.append([r["reward_target"] for r in rows])
        final_step = max(by_step, key=int)
        out[arm.name] = {
            "label": arm.label,
            "seeds": seeds,
            "heldout_acc_final": by_step[final_step],
            "heldout_acc_by_step": by_step,
            "heldout_greedy_by_step": greedy_by_step,
            "heldout_acc_final_by_family": family_final,
            "heldout_acc_by_family_by_step": family_by_step,
            "target_tokens": tokens,
            "reward_target_by_step": reward_target,
        }
    return out


def fmt(values: list[float]) -> str:
    m, s = mean_sd(values)
    return f"{100 * m:.1f} ± {100 * s:.1f}"


def verdict(results: dict[str, Any], base: float) -> list[str]:
    """Plain sentences computed from the numbers: each arm against the base, S2L-PO against GRPO."""
    lines = []
    for arm in results["arms"].values():
        m, s = mean_sd(arm["heldout_acc_final"])
        above = "more" if m - 2 * s > base else "not more"
        lines.append(f"{arm['label']}: final held-out accuracy {100 * m:.1f} ± {100 * s:.1f}% vs base "
                     f"{100 * base:.1f}%, a change of {100 * (m - base):+.1f} points; mean − 2 sd is {above} "
                     "than the base.")
    arms_ = results["arms"]
    if "s2lpo" in arms_ and "grpo" in arms_:
        (ms, ss), (mg, sg) = mean_sd(arms_["s2lpo"]["heldout_acc_final"]), mean_sd(arms_["grpo"]["heldout_acc_final"])
        diff = ms - mg
        spread = max(ss, sg)
        beyond = "larger" if abs(diff) > 2 * spread else "not larger"
        lines.append(f"S2L-PO − GRPO at the last step: {100 * diff:+.1f} points, {beyond} than twice the larger "
                     f"seed sd ({100 * spread:.1f}).")
        ts, tg = statistics.fmean(arms_["s2lpo"]["target_tokens"]), statistics.fmean(arms_["grpo"]["target_tokens"])
        lines.append(f"Target-generated tokens: S2L-PO {ts:,.0f}, GRPO {tg:,.0f} ({100 * (ts / tg - 1):+.0f}%).")
    return lines


def markdown(results: dict[str, Any]) -> str:
    arms_ = results["arms"]
    names = list(arms_)
    base = results["base"]
    steps = sorted(arms_[names[0]]["heldout_acc_by_step"], key=int)
    lines = [
        "Held-out accuracy (%), mean ± sd over seeds "
        f"{', '.join(map(str, results['settings']['seeds']))}: mean over {results['settings']['k']} samples per "
        "question at temperature 1 (greedy in parentheses); step 0 is the untrained target.",
        "",
        "| step | " + " | ".join(arms_[n]["label"] for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for step in steps:
        cells = [f"{fmt(arms_[n]['heldout_acc_by_step'][step])} ({fmt(arms_[n]['heldout_greedy_by_step'][step])})"
                 for n in names]
        lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines += ["", "| final, by family (%) | base | " + " | ".join(arms_[n]["label"] for n in names) + " |",
              "|---|---|" + "---|" * len(names)]
    for family in sorted(base["by_family"]):
        cells = [fmt(arms_[n]["heldout_acc_final_by_family"].get(family, [0.0])) for n in names]
        lines.append(f"| {family} | {100 * base['by_family'][family]:.1f} | " + " | ".join(cells) + " |")
    for family in PROCEDURES:
        if family not in base["by_family"]:
            continue
        lines += ["", f"| step: {family}, held-out (%) | " + " | ".join(arms_[n]["label"] for n in names) + " |",
                  "|---|" + "---|" * len(names)]
        for step in steps:
            cells = [fmt(arms_[n]["heldout_acc_by_family_by_step"][family][step]) for n in names]
            lines.append(f"| {step} | " + " | ".join(cells) + " |")
    tokens = [f"{statistics.fmean(arms_[n]['target_tokens']):,.0f}" for n in names]
    lines += ["", "| target-generated tokens, whole run | " + " | ".join(tokens) + " |",
              "|---|" + "---|" * len(names), "", *verdict(results, base["heldout_acc"]),
              *[procedure_verdict(results, f) for f in PROCEDURES if f in base["by_family"]]]
    return "\n".join(lines) + "\n"


def procedure_verdict(results: dict[str, Any], family: str) -> str:
    """The prediction of docs/toy.md on a procedure family, checked: S2L-PO above GRPO by > 2 seed sd."""
    arms_ = results["arms"]
    if "s2lpo" not in arms_ or "grpo" not in arms_:
        return f"{family}: the prediction needs the S2L-PO and GRPO arms."
    base = results["base"]["by_family"][family]
    (ms, ss), (mg, sg) = (mean_sd(arms_[n]["heldout_acc_final_by_family"][family]) for n in ("s2lpo", "grpo"))
    held = "holds" if ms - mg > 2 * max(ss, sg) else "does not hold"
    return (f"{family} (held-out, base {100 * base:.1f}%): S2L-PO {100 * ms:.1f} ± {100 * ss:.1f}%, "
            f"GRPO {100 * mg:.1f} ± {100 * sg:.1f}%; the prediction (S2L-PO above GRPO by more than twice the "
            f"larger seed sd, {100 * 2 * max(ss, sg):.1f} points) {held}.")


def plot(results: dict[str, Any], path: Path, window: int = 10) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, arm in enumerate(results["arms"].values()):
        color = f"C{i}"
        steps = sorted(arm["heldout_acc_by_step"], key=int)
        x = [int(s) for s in steps]
        m = [100 * mean_sd(arm["heldout_acc_by_step"][s])[0] for s in steps]
        sd = [100 * mean_sd(arm["heldout_acc_by_step"][s])[1] for s in steps]
        axes[0].plot(x, m, "-o", color=color, markersize=3, label=arm["label"])
        axes[0].fill_between(x, [a - b for a, b in zip(m, sd, strict=True)], [a + b for a, b in zip(m, sd, strict=True)],
                             color=color, alpha=0.2)
        curves = arm["reward_target_by_step"]
        n = min(len(c) for c in curves)
        per_step = [[c[t] for c in curves if c[t] is not None] for t in range(n)]
        smooth, xs = [], []
        for t in range(n):
            vals = [v for vs in per_step[max(0, t - window + 1): t + 1] for v in vs]
            if vals:
                xs.append(t + 1)
                smooth.append(statistics.fmean(vals))
        axes[1].plot(xs, smooth, color=color, label=f"{arm['label']} (rolling mean of {window} steps)")
    axes[0].set(xlabel="step", ylabel="held-out accuracy, % (mean of samples at T=1)",
                title="held-out accuracy, mean ± sd over seeds")
    axes[1].set(xlabel="step", ylabel="reward of the target's own responses",
                title="training reward, target responses only")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------ the experiment


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "reproduce_toy", help="work folder (default: reproduce_toy/)")
    p.add_argument("--task", nargs="+", default=list(TASKS), choices=list(TASKS), help="tasks (default: both)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per arm (default 3)")
    p.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    p.add_argument("--anneal", type=int, default=40, help="N: steps over which alpha falls 1 -> 0 (default 40)")
    p.add_argument("--save-every", type=int, default=10, help="checkpoint (and score) every N steps (default 10)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: recipes/tiny.yaml's)")
    p.add_argument("--arms", nargs="+", default=["s2lpo", "grpo", "grpo_hot"], choices=["s2lpo", "grpo", "grpo_hot"])
    p.add_argument("--hot-temperature", type=float, default=1.3, help="temperature of the grpo_hot arm")
    p.add_argument("--k", type=int, default=8, help="held-out samples per question (default 8)")
    p.add_argument("--jobs", type=int, default=None, help="runs side by side (default: one per core)")
    p.add_argument("--quick", action="store_true", help="build a quick tiny pair instead of the shipped one (smoke runs)")
    p.add_argument("--score-run", help=argparse.SUPPRESS)  # internal: score one run's checkpoints
    return p.parse_args()


def run_task(task_name: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The experiment on one task's shipped pair, in `work`; returns that task's results."""
    from s2lpo_cli.recipe import load_recipe
    from s2lpo_cli.training.threads import cores

    work.mkdir(parents=True, exist_ok=True)
    recipe_path = REPO / "recipes" / "tiny.yaml"
    recipe = os.path.relpath(recipe_path, work)
    anneal = min(args.anneal, args.steps)
    # Every setting the comparison depends on is pinned here or printed into results.json. The arith task
    # trains on the registered `synthetic` set (= its train.jsonl); the transfer task on its train.jsonl.
    sets = [f"schedule.total_steps={args.steps}", f"schedule.anneal_steps={anneal}",
            f"output.save_every={args.save_every}", "output.logger=[jsonl]", "schedule.mode=mixed",
            # held-out accuracy per family comes from scoring each checkpoint here, not the recipe's validation
            "validation.every=0",
            *([f"optim.lr={args.lr}"] if args.lr else []),
            *(["data.train=tiny_models/data/train.jsonl"] if task_name != "arith" else [])]
    set_args = [a for s in sets for a in ("--set", s)]
    seeds = list(range(args.seeds))
    chosen = [arms(args.hot_temperature)[name] for name in args.arms]
    jobs = args.jobs or cores()

    if not (work / "tiny_models" / "build.json").is_file():
        build = ["--build", "--quick"] if args.quick else []
        run_cli(["tiny", "init", "tiny_models", "--task", task_name, *build, "--force"], work)
    if any(a.name == "s2lpo" for a in chosen):
        run_cli(["sample", "--explorer", "tiny_models/explorer", "--recipe", recipe, *set_args], work)
    base = score_base(work, args.k)

    def train_and_score(arm: Arm, seed: int) -> None:
        run = arm.folder(seed)
        log = work / f"{run}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        run_cli(["train", recipe, *set_args, "--set", f"optim.seed={seed}",
                 "--set", f"output.run_dir={arm.output_dir(seed)}", *arm.extra], work, log)
        scorer = [sys.executable, __file__, "--out", str(work), "--k", str(args.k), "--score-run", run]
        subprocess.run(scorer, check=True)

    print(f"{task_name}: {len(chosen) * len(seeds)} runs, {jobs} at a time; logs in {work / 'runs'}",
          file=sys.stderr, flush=True)
    with ThreadPoolExecutor(jobs) as pool:
        for future in [pool.submit(train_and_score, arm, seed) for seed in seeds for arm in chosen]:
            future.result()

    results = {
        "base": {"heldout_acc": base["sampled"]["all"], "heldout_greedy": base["greedy"]["all"],
                 "by_family": base["sampled"]},
        "arms": collect(work, chosen, seeds, base),
        "settings": {"recipe": "recipes/tiny.yaml", "task": task_name, "overrides": sets, "seeds": seeds,
                     "k": args.k, "hot_temperature": args.hot_temperature,
                     "resolved": load_recipe(recipe_path, sets).model_dump(mode="json")},
    }
    run_cli(["report", *[a.folder(s) for s in seeds for a in chosen], "--out", "report"], work, work / "report.log")
    return results


def main() -> None:
    args = parse_args()
    work = args.out.resolve()
    if args.score_run:
        score_run(work, args.score_run, args.k)
        return
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    results = {task_name: run_task(task_name, args, work / task_name) for task_name in args.task}
    text = "".join(f"## {task_name}\n\n{markdown(r)}\n" for task_name, r in results.items())
    (work / "results.md").write_text(text)
    (work / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    for task_name, r in results.items():
        plot(r, work / f"heldout_accuracy_{task_name}.png")
    print("\n" + text)
    print(f"reproduce-toy finished in {(time.monotonic() - started) / 60:.1f} min: {work / 'results.md'}, "
          f"{work}/heldout_accuracy_<task>.png, runs' reports in {work}/<task>/report/report.md")


if __name__ == "__main__":
    main()
