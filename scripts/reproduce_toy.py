"""`make reproduce-toy`: S2L-PO against plain GRPO (and GRPO at a higher temperature) on the tiny models.

Every arm trains the same tiny target from recipes/tiny.yaml with the same steps, prompts per step and
group size G (the same number of responses per step); S2L-PO takes G_w of each group from the explorer's
offline rollouts while alpha anneals over the first N steps, GRPO samples all G from the target, and the
third arm is GRPO sampling at a higher temperature (token-level diversity instead of a second policy).
Training goes through the public CLI (`s2lpo tiny init`, `sample`, `train`, `report`); runs go side by
side, one per core (each trainer takes its share of the cores by itself). Held-out accuracy is the
recipe's validation during training (docs/validation.md): before the first step and every
`--save-every` steps, the live weights answer all held-out synthetic questions, K samples per question at
temperature 1 (their mean is the held-out accuracy, as the paper's avg@K Pass@1), asked with the tiny
recipe's instruction as the training questions are (validation.instruction), with the same validation seed in every run; the script reads it from each run's val.jsonl, and per family from the
graded rows the run keeps under validation/step_NNNN/ (each question's family from the task's held-out file).
From each run's metrics.jsonl it also reads the share of groups with non-zero advantage per family and
step, and the target's training reward; results.md says at which step each seed's held-out accuracy and
rolling training reward first reach a stated level (`--reach-heldout`, `--reach-reward`, or by default
halfway from the start to the best arm's final mean). `--correction` sets off_policy.correction.

Both tasks run by default (`--task arith` or `--task transfer` for one), each from its shipped pair, in
reproduce_toy/<task>/. Outputs in reproduce_toy/: results.json ({task: results}), results.md,
heldout_accuracy_<task>.png, nonzero_adv_<task>.png, and <task>/report/ (`s2lpo report`). A rerun continues where a killed one
stopped (each run resumes from its last checkpoint).

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

from s2lpo_cli.reporting.arms import mean_sd as arms_mean_sd  # noqa: E402
from s2lpo_cli.reporting.smoothing import rolling_mean  # noqa: E402
from s2lpo_cli.tiny.task import PROCEDURES, TASKS, TINY_INSTRUCTION  # noqa: E402

HELDOUT = "tiny_models/data/heldout.jsonl"  # the task's held-out questions, {"id", "question", "answer", "family"}


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


# ------------------------------------------------------------------ held-out accuracy, from validation


def validation_sets(save_every: int, k: int, seed: int) -> list[str]:
    """The recipe's validation as the toy measures held-out accuracy: every held-out question asked as RL asks
    the training ones (the tiny recipe's instruction), k samples at temperature 1 (plain sampling, as the tiny
    models were trained), the same seed for every arm."""
    return [f"validation.every={save_every}", "validation.before_train=true", f"validation.benchmarks=[{HELDOUT}]",
            f"validation.instruction={TINY_INSTRUCTION}",
            "validation.limit=null", f"validation.k={k}", f"validation.seed={seed}", "validation.mode=nothink",
            "validation.temperature=1.0", "validation.top_p=1.0", "validation.top_k=-1",
            "validation.presence_penalty=0.0"]


def heldout_families(path: Path) -> dict[str, str]:
    """{question id: family} of the task's held-out file."""
    from s2lpo_cli.data.rows import read_rows

    rows = read_rows(path)
    missing = next((row.id for row in rows if "family" not in row.extra), None)
    if missing is not None:
        sys.exit(f"reproduce-toy: {path}: question {missing!r} has no 'family' field (the tiny tasks' rows have one)")
    return {row.id: str(row.extra["family"]) for row in rows}


def graded_by_family(scored: Path, families: dict[str, str]) -> dict[str, float]:
    """Share of right samples per family and overall ("all") in a validation's graded rows (`<bench>.jsonl`)."""
    from s2lpo_cli.evaluation.validation import read_rows

    right: dict[str, list[bool]] = {}
    for n, row in enumerate(read_rows(scored), 1):
        if row["id"] not in families:
            sys.exit(f"reproduce-toy: {scored}:{n}: question id {row['id']!r} is not in the held-out file")
        for name in ("all", families[row["id"]]):
            right.setdefault(name, []).extend(row["correct"])
    if not right:
        sys.exit(f"reproduce-toy: {scored}: no graded rows (a validation killed before it finished?)")
    return {name: sum(oks) / len(oks) for name, oks in sorted(right.items())}


def run_validation(folder: Path, families: dict[str, str]) -> dict[str, dict[str, float]]:
    """{step: {"all": val.jsonl's Pass@1, family: accuracy}} of one run's held-out validation."""
    from s2lpo_cli.evaluation.layout import RunDirs
    from s2lpo_cli.evaluation.validation import entry_name, read_rows
    from s2lpo_cli.run_folder import RunFolder

    run, bench = RunFolder(folder), entry_name(HELDOUT)
    out: dict[str, dict[str, float]] = {}
    for row in read_rows(run.val_path):
        if row["benchmark"] != bench:
            continue
        where = run.validation(row["step"]) / bench
        scored = RunDirs(where, where).scored_path(bench)
        accuracy = graded_by_family(scored, families)
        if abs(accuracy["all"] - row["pass@1"]) > 1e-9:
            sys.exit(f"reproduce-toy: {scored} gives {accuracy['all']:.6f}, {run.val_path} step {row['step']} "
                     f"pass@1 {row['pass@1']:.6f}: the graded rows are not that validation's")
        out[str(row["step"])] = {**accuracy, "all": row["pass@1"]}
    if not out:
        sys.exit(f"reproduce-toy: {run.val_path}: no validation rows of {bench}")
    return out


# ------------------------------------------------------------------ aggregation


def mean_sd(values: list[float]) -> tuple[float, float]:
    """`s2lpo report`'s mean and sample sd, with sd 0 for one seed (the tables print it)."""
    mean, sd = arms_mean_sd(values)
    return mean, sd or 0.0


def collect(work: Path, chosen: list[Arm], seeds: list[int]) -> dict[str, Any]:
    """Each arm's held-out curves (overall and per family), tokens and training reward, over its seeds."""
    from s2lpo_cli.run_folder import RunFolder
    from s2lpo_cli.training import metrics as metrics_file

    families = heldout_families(work / HELDOUT)
    out: dict[str, Any] = {}
    for arm in chosen:
        by_step: dict[str, list[float]] = {}
        family_by_step: dict[str, dict[str, list[float]]] = {}
        family_final: dict[str, list[float]] = {}
        tokens, reward_target = [], []
        nonzero_adv: dict[str, list[list[float | None]]] = {}  # family -> per seed, per step
        for seed in seeds:
            folder = work / arm.folder(seed)
            curve = run_validation(folder, families)
            for step, accuracy in curve.items():
                by_step.setdefault(step, []).append(accuracy["all"])
                for family, acc in accuracy.items():
                    if family != "all":
                        family_by_step.setdefault(family, {}).setdefault(step, []).append(acc)
            for family, acc in curve[max(curve, key=int)].items():
                family_final.setdefault(family, []).append(acc)
            rows = metrics_file.read(RunFolder(folder).metrics_path)
            tokens.append(sum(r["target_tokens"] for r in rows))
            reward_target.append([r["reward_target"] for r in rows])
            for family in sorted({f for r in rows for f in r.get("nonzero_adv_frac_by_family") or {}}):
                nonzero_adv.setdefault(family, []).append(
                    [(r.get("nonzero_adv_frac_by_family") or {}).get(family) for r in rows])
        final_step = max(by_step, key=int)
        out[arm.name] = {
            "label": arm.label,
            "seeds": seeds,
            "heldout_acc_final": by_step[final_step],
            "heldout_acc_by_step": dict(sorted(by_step.items(), key=lambda kv: int(kv[0]))),
            "heldout_acc_final_by_family": family_final,
            "heldout_acc_by_family_by_step": family_by_step,
            "target_tokens": tokens,
            "reward_target_by_step": reward_target,
            "nonzero_adv_frac_by_family_by_step": nonzero_adv,
        }
    return out


def rolling(values: list[float | None], window: int) -> list[tuple[int, float]]:
    """(step, mean of the last `window` values that are not None) at every step (from 1) where `window` exist:
    a target reward is None at steps whose groups hold no target response (S2L-PO's first steps)."""
    points = [(step, value) for step, value in enumerate(values, 1) if value is not None]
    means = rolling_mean([value for _, value in points], window)
    return [(step, mean) for (step, _), mean in zip(points, means, strict=True)][window - 1:]


def mean_over_seeds(curves: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    """(step, mean over seeds) at the steps every seed's curve has."""
    by_seed = [dict(c) for c in curves]
    common = sorted(set.intersection(*(set(c) for c in by_seed)))
    return [(t, statistics.fmean(c[t] for c in by_seed)) for t in common]


def base_accuracy(arms_: dict[str, Any]) -> dict[str, Any]:
    """The untrained target's held-out accuracy: the step-0 validation of every run (the same weights, the
    same validation seed), their mean; `runs_agree` says whether every run measured the same number."""
    overall = [v for arm in arms_.values() for v in arm["heldout_acc_by_step"]["0"]]
    families = next(iter(arms_.values()))["heldout_acc_by_family_by_step"]
    by_family = {family: statistics.fmean(v for arm in arms_.values() for v in arm["heldout_acc_by_family_by_step"][family]["0"])
                 for family in families}
    return {"heldout_acc": statistics.fmean(overall), "by_family": {**by_family, "all": statistics.fmean(overall)},
            "runs_agree": max(overall) - min(overall) < 1e-12}


# ------------------------------------------------------------------ how soon each arm gets there


REWARD_WINDOW = 10  # steps in the rolling mean of the training reward


def first_step(points: list[tuple[int, float]], level: float) -> int | None:
    """The first step whose value is at least `level`: `s2lpo report`'s rule (reporting.validation.first_reaching)."""
    from s2lpo_cli.reporting.validation import first_reaching

    hit = first_reaching([{"step": t, "mean": v, "target_tokens": None} for t, v in points], level)
    return None if hit is None else hit["step"]


def halfway(start: float, ends: list[float]) -> float | None:
    """Halfway from `start` to the best of `ends`; None when no end is above the start."""
    best = max(ends)
    return start + (best - start) / 2 if best > start else None


def reach_of(curves: dict[str, list[list[tuple[int, float]]]], level: float | None, rule: str) -> dict[str, Any]:
    """{"level", "rule", "steps": {arm: first step of each seed, None where it never gets there}}."""
    steps = {arm: [None if level is None else first_step(c, level) for c in seeds] for arm, seeds in curves.items()}
    return {"level": level, "rule": rule, "steps": steps}


def reach(arms_: dict[str, Any], base: float, heldout_level: float | None = None, reward_level: float | None = None,
          window: int = REWARD_WINDOW) -> dict[str, Any]:
    """The first step at which each seed's held-out accuracy and rolling training reward reach a level.

    Default levels: halfway from where the arms start (the untrained target's held-out accuracy; the mean
    of every run's first rolling reward) to the best arm's final mean; `heldout_level` / `reward_level`
    set them instead.
    """
    heldout = {name: [[(int(t), accs[i]) for t, accs in arm["heldout_acc_by_step"].items()]
                      for i in range(len(arm["seeds"]))] for name, arm in arms_.items()}
    if heldout_level is not None:
        heldout_rule = "--reach-heldout"
    else:
        heldout_level = halfway(base, [statistics.fmean(arm["heldout_acc_final"]) for arm in arms_.values()])
        heldout_rule = (f"halfway from the untrained target ({100 * base:.1f}%) to the best arm's final mean"
                        if heldout_level is not None else "no arm ended above the untrained target: no level")
    reward = {name: [rolling(c, window) for c in arm["reward_target_by_step"]] for name, arm in arms_.items()}
    if reward_level is not None:
        reward_rule = "--reach-reward"
    else:
        starts = [c[0][1] for curves in reward.values() for c in curves if c]
        ends = [statistics.fmean(c[-1][1] for c in curves) for curves in reward.values() if all(curves)]
        start = statistics.fmean(starts) if starts else 0.0
        reward_level = halfway(start, ends) if ends else None
        reward_rule = (f"halfway from the runs' first rolling mean ({start:.3f}) to the best arm's final one"
                       if reward_level is not None else
                       "no arm ended above where the runs started: no level" if starts else
                       f"fewer than {window} steps with target responses: no rolling mean")
    return {"heldout": reach_of(heldout, heldout_level, heldout_rule),
            "reward_target": {**reach_of(reward, reward_level, reward_rule), "window": window}}


def spread(steps: list[int | None]) -> str:
    """Each seed's step ("never" where it never got there) and their spread: mean ± sd when every seed got
    there, else the range."""
    cells = ", ".join("never" if t is None else str(t) for t in steps)
    reached = [t for t in steps if t is not None]
    if not reached:
        return f"{cells} (never)"
    if len(reached) == len(steps):
        m, sd = mean_sd([float(t) for t in reached])
        return f"{cells} (mean {m:.1f} ± {sd:.1f})"
    return f"{cells} (range {min(reached)}–never)"


def reach_lines(results: dict[str, Any]) -> list[str]:
    """results.md's section on how soon each arm gets there."""
    arms_, r = results["arms"], results["reach"]
    names = list(arms_)
    seeds = ", ".join(map(str, results["settings"]["seeds"]))
    every = results["settings"]["validate_every"]
    held, reward = r["heldout"], r["reward_target"]
    lines = ["", f"How soon each arm gets there: the first step at or above a level, per seed ({seeds}), then "
                 "mean ± sd over seeds (a range when some seed never gets there)."]
    for title, part, level in (
        (f"held-out accuracy (validated every {every} steps)", held,
         None if held["level"] is None else f"{100 * held['level']:.1f}%"),
        (f"target's training reward, rolling mean of {reward['window']} steps", reward,
         None if reward["level"] is None else f"{reward['level']:.3f}"),
    ):
        lines += ["", f"- {title}: level {level or 'none'} ({part['rule']})."]
        if level is not None:
            lines += [f"  - {arms_[n]['label']}: {spread(part['steps'][n])}" for n in names]
    return lines


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
        "question at temperature 1 (validation during training); step 0 is the untrained target.",
        "",
        "| step | " + " | ".join(arms_[n]["label"] for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for step in steps:
        cells = [fmt(arms_[n]["heldout_acc_by_step"][step]) for n in names]
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
    lines += nonzero_adv_lines(results)
    lines += reach_lines(results)
    tokens = [f"{statistics.fmean(arms_[n]['target_tokens']):,.0f}" for n in names]
    lines += ["", "| target-generated tokens, whole run | " + " | ".join(tokens) + " |",
              "|---|" + "---|" * len(names), "", *verdict(results, base["heldout_acc"]),
              *[procedure_verdict(results, f) for f in PROCEDURES if f in base["by_family"]]]
    return "\n".join(lines) + "\n"


def nonzero_adv_lines(results: dict[str, Any]) -> list[str]:
    """Groups with non-zero advantage (%) per arm and family, mean over seeds of each block of steps."""
    arms_ = results["arms"]
    block = results["settings"]["validate_every"]
    steps = len(next(iter(arms_.values()))["reward_target_by_step"][0])
    blocks = [(a, min(a + block - 1, steps)) for a in range(1, steps + 1, block)]
    lines = ["", "Groups with non-zero advantage (%), per family: mean over seeds and over the steps of each block "
                 "(metrics.jsonl `nonzero_adv_frac_by_family`).", "",
             "| arm | family | " + " | ".join(f"{a}–{b}" for a, b in blocks) + " |",
             "|---|---|" + "---|" * len(blocks)]
    for arm in arms_.values():
        for family, seeds in arm["nonzero_adv_frac_by_family_by_step"].items():
            cells = []
            for a, b in blocks:
                values = [v for per_step in seeds for v in per_step[a - 1:b] if v is not None]
                cells.append(f"{100 * statistics.fmean(values):.0f}" if values else "–")
            lines.append(f"| {arm['label']} | {family} | " + " | ".join(cells) + " |")
    return lines


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


def plot(results: dict[str, Any], path: Path, window: int = REWARD_WINDOW) -> None:
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
        smooth = mean_over_seeds([rolling(c, window) for c in arm["reward_target_by_step"]])
        axes[1].plot([t for t, _ in smooth], [v for _, v in smooth], color=color,
                     label=f"{arm['label']} (rolling mean of {window} steps, mean over seeds)")
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


def plot_nonzero_adv(results: dict[str, Any], path: Path, window: int = REWARD_WINDOW) -> None:
    """One panel per family: the share of its groups with non-zero advantage per step, each arm's mean over
    seeds, as a rolling mean of `window` steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = sorted({f for arm in results["arms"].values() for f in arm["nonzero_adv_frac_by_family_by_step"]})
    if not families:
        return
    fig, axes = plt.subplots(1, len(families), figsize=(3.6 * len(families), 3.4), sharey=True, squeeze=False)
    for ax, family in zip(axes[0], families, strict=True):
        for i, arm in enumerate(results["arms"].values()):
            seeds = arm["nonzero_adv_frac_by_family_by_step"].get(family)
            if seeds:
                curve = mean_over_seeds([rolling(c, window) for c in seeds])
                ax.plot([t for t, _ in curve], [100 * v for _, v in curve], color=f"C{i}", label=arm["label"])
        ax.set(title=family, xlabel="step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"groups with non-zero advantage, %\n(rolling mean of {window} steps)")
    axes[0][0].legend(fontsize=8)
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
    p.add_argument("--save-every", type=int, default=10,
                   help="validate on the held-out set (and checkpoint) every N steps (default 10)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: recipes/tiny.yaml's)")
    p.add_argument("--arms", nargs="+", default=["s2lpo", "grpo", "grpo_hot"], choices=["s2lpo", "grpo", "grpo_hot"])
    p.add_argument("--hot-temperature", type=float, default=1.3, help="temperature of the grpo_hot arm")
    p.add_argument("--k", type=int, default=8, help="held-out samples per question (default 8)")
    p.add_argument("--validation-seed", type=int, default=0,
                   help="validation.seed, the same in every run (default 0)")
    p.add_argument("--correction", default="none", choices=["none", "truncated_is", "luffy"],
                   help="off_policy.correction of every arm (only S2L-PO has explorer tokens to correct; default none)")
    p.add_argument("--reach-heldout", type=float, default=None,
                   help="held-out accuracy (0-1) whose first step is reported (default: halfway to the best final)")
    p.add_argument("--reach-reward", type=float, default=None,
                   help="rolling training reward whose first step is reported (default: halfway to the best final)")
    p.add_argument("--jobs", type=int, default=None, help="runs side by side (default: one per core)")
    p.add_argument("--quick", action="store_true", help="build a quick tiny pair instead of the shipped one (smoke runs)")
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
            *validation_sets(args.save_every, args.k, args.validation_seed),
            f"off_policy.correction={args.correction}",
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

    def train(arm: Arm, seed: int) -> None:
        log = work / f"{arm.folder(seed)}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        run_cli(["train", recipe, *set_args, "--set", f"optim.seed={seed}",
                 "--set", f"output.run_dir={arm.output_dir(seed)}", *arm.extra], work, log)

    print(f"{task_name}: {len(chosen) * len(seeds)} runs, {jobs} at a time; logs in {work / 'runs'}",
          file=sys.stderr, flush=True)
    with ThreadPoolExecutor(jobs) as pool:
        for future in [pool.submit(train, arm, seed) for seed in seeds for arm in chosen]:
            future.result()

    collected = collect(work, chosen, seeds)
    base = base_accuracy(collected)
    results = {
        "base": base,
        "arms": collected,
        "reach": reach(collected, base["heldout_acc"], args.reach_heldout, args.reach_reward),
        "settings": {"recipe": "recipes/tiny.yaml", "task": task_name, "overrides": sets, "seeds": seeds,
                     "k": args.k, "validation_seed": args.validation_seed, "validate_every": args.save_every,
                     "correction": args.correction, "hot_temperature": args.hot_temperature,
                     "resolved": load_recipe(recipe_path, sets).model_dump(mode="json")},
    }
    run_cli(["report", *[a.folder(s) for s in seeds for a in chosen], "--out", "report"], work, work / "report.log")
    return results


def main() -> None:
    args = parse_args()
    work = args.out.resolve()
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    results = {task_name: run_task(task_name, args, work / task_name) for task_name in args.task}
    text = "".join(f"## {task_name}\n\n{markdown(r)}\n" for task_name, r in results.items())
    (work / "results.md").write_text(text)
    (work / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    for task_name, r in results.items():
        plot(r, work / f"heldout_accuracy_{task_name}.png")
        plot_nonzero_adv(r, work / f"nonzero_adv_{task_name}.png")
    print("\n" + text)
    print(f"reproduce-toy finished in {(time.monotonic() - started) / 60:.1f} min: {work / 'results.md'}, "
          f"{work}/heldout_accuracy_<task>.png, {work}/nonzero_adv_<task>.png, runs' reports in {work}/<task>/report/report.md")


if __name__ == "__main__":
    main()
