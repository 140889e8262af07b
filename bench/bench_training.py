"""One GRPO training step: s2lpo's embedded trainer against TRL's GRPOTrainer doing the same work.

Same tiny Qwen3 target (random weights, so both generate to about the length limit: fixed work), same
prompts, G, response length, batch (one optimizer update over PROMPTS*G responses, micro-batches of MICRO
with gradient accumulation), no KL, the same grader as the reward. Each side runs in its own process with
the same torch thread count (set explicitly, printed): WARMUP untimed steps, then TIMED steps, each timed
in wall time and in this process's CPU time (grading workers excluded on both sides). The sides take
turns over ROUNDS rounds (s2lpo first, then TRL first, ...), so that a drift in the host's speed during
the run (about 10% was seen between runs minutes apart) falls on both sides alike; the median and range
over every round's timed steps are reported, with a per-phase split (generation, grading, update) and the
ratio of each round. The 1-minute load average is printed before and after each side, with a warning
when the machine was not idle or when a side got less CPU than wall time (it waited for a core). In the
first round the s2lpo side runs on to MEMORY_STEPS[-1] steps and reports its peak resident memory after
each of MEMORY_STEPS (flat memory: no growth with steps). Target: s2lpo's median step time <= 0.5x TRL's.

Run: python -m bench.bench_training [--rounds 3] [--memory-steps 100]   (or via `make bench`)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPTS, G, MAX_TOKENS, MICRO, LR, SEED = 8, 8, 32, 16, 1e-5, 0
THREADS = 1  # torch threads on both sides: the tiny model gains nothing from more
WARMUP, TIMED = 2, 5
ROUNDS = 3  # turns each side takes, alternating which goes first
MEMORY_STEPS = (10, 100)  # s2lpo's peak RSS is read after these many steps
TARGET_RATIO = 0.5
IDLE_LOAD = 1.0  # a 1-minute load average above this before a side: the machine was not idle
MIN_CPU_SHARE = 0.9  # a side whose CPU time is below this share of its wall time waited for a core
PHASES = ("time_generation_s", "time_grading_s", "time_update_s")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def build_model(folder: Path) -> list[dict[str, str]]:
    """The tiny target architecture with random weights and the tiny tokenizer; returns the prompts' rows."""
    from s2lpo_cli.tiny.models import TARGET_SIZE, new_model
    from s2lpo_cli.tiny.task import rows
    from s2lpo_cli.tiny.tokenizer import train_tokenizer

    data = rows(SEED, "train", 200)
    tokenizer = train_tokenizer([f"{r['question']} {r['answer']}" for r in data])
    new_model(TARGET_SIZE, tokenizer, seed=SEED).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return data[: PROMPTS * 2]


def run_ours(folder: Path, data: list[dict[str, str]], memory_steps: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from s2lpo_cli.data.rows import Row
    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.preflight.prompts import encode_rows
    from s2lpo_cli.recipe import load_recipe
    from s2lpo_cli.schedule import PhysicalStep
    from s2lpo_cli.training.run import training_prompts
    from s2lpo_cli.training.trainer import Trainer
    from s2lpo_cli.training.trainer_config import TrainerConfig

    recipe = load_recipe("tiny", [
        f"models.target={folder}", "schedule.anneal_steps=0", f"optim.prompts_per_step={PROMPTS}",
        f"optim.mini_batch={PROMPTS}", f"optim.micro_batch={MICRO}", f"rollout.group_size={G}",
        f"rollout.max_response_tokens={MAX_TOKENS}", f"optim.lr={LR}", "optim.kl.enabled=false",
        f"optim.seed={SEED}",
    ])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = [Row(id=r["id"], question=r["question"], answer=r["answer"]) for r in data]
    prompts = training_prompts(rows, encode_rows(tokenizer, rows, recipe.data.prompt))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    steps: list[dict] = []
    rss_after: dict[int, float] = {}
    with Grader() as grader:
        trainer = Trainer(TrainerConfig.from_recipe(recipe), model, tokenizer, prompts, grader)
        for i in range(max(WARMUP + TIMED, memory_steps)):
            wall, cpu = time.perf_counter(), time.process_time()
            m = trainer.step(i, PhysicalStep(i + 1, "mixed", 0, G))
            if WARMUP <= i < WARMUP + TIMED:
                steps.append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                              "response_len": m["response_len"], **{k: m[k] for k in PHASES}})
            if i + 1 == WARMUP + TIMED:
                rss_timed = peak_rss_mib()
            if i + 1 in MEMORY_STEPS or i + 1 == memory_steps:
                rss_after[i + 1] = peak_rss_mib()
    return {"steps": steps, "rss_timed": rss_timed, "rss_after": rss_after}


def run_trl(folder: Path, data: list[dict[str, str]], memory_steps: int) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.tiny.task import TINY_INSTRUCTION

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    dataset = Dataset.from_list([
        {"prompt": [{"role": "user", "content": f"{r['question']}\n{TINY_INSTRUCTION}"}], "answer": r["answer"]}
        for r in data
    ])
    grader = Grader().__enter__()
    lengths: list[float] = []
    phase_s = {k: 0.0 for k in PHASES}

    def reward(completions, answer, **_):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [1.0 if g.correct else 0.0 for g in grader.grade(list(zip(texts, answer, strict=True)))]

    def timed(method, key):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                phase_s[key] += time.perf_counter() - start
        return wrapper

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.steps: list[dict] = []
            self.start = (0.0, 0.0)

        def on_step_begin(self, args, state, control, **kwargs):
            phase_s.update(dict.fromkeys(PHASES, 0.0))
            self.start = (time.perf_counter(), time.process_time())

        def on_step_end(self, args, state, control, **kwargs):
            wall = time.perf_counter() - self.start[0]
            self.steps.append({"wall": wall, "cpu": time.process_time() - self.start[1],
                               "time_generation_s": phase_s["time_generation_s"],
                               "time_grading_s": phase_s["time_grading_s"],
                               "time_update_s": wall - phase_s["time_generation_s"] - phase_s["time_grading_s"]})

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:
                lengths.append(logs["completions/mean_length"])

    clock = Clock()
    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out, use_cpu=True, max_steps=WARMUP + TIMED, learning_rate=LR, beta=0.0,
            num_generations=G, per_device_train_batch_size=MICRO, gradient_accumulation_steps=PROMPTS * G // MICRO,
            max_completion_length=MAX_TOKENS, temperature=1.0, top_k=0, loss_type="dapo", logging_steps=1,
            report_to="none", save_strategy="no", seed=SEED, bf16=False, dataloader_num_workers=0,
            disable_tqdm=True,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset,
                              processing_class=tokenizer, callbacks=[clock])
        trainer._generate = timed(trainer._generate, "time_generation_s")
        trainer._calculate_rewards = timed(trainer._calculate_rewards, "time_grading_s")
        trainer.train()
    grader.__exit__(None, None, None)
    steps = clock.steps[WARMUP:]
    for step, length in zip(steps, lengths[WARMUP:], strict=False):
        step["response_len"] = length
    return {"steps": steps, "rss_timed": peak_rss_mib(), "rss_after": {}}


def _side(name: str, memory_steps: int) -> None:
    """Child process: build the model, run one side, print its figures as JSON on the last line."""
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        data = build_model(Path(tmp))
        result = (run_ours if name == "s2lpo" else run_trl)(Path(tmp), data, memory_steps)
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


def _run_side(name: str, memory_steps: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS), "MKL_NUM_THREADS": str(THREADS)}
    before = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_training", "--side", name, "--memory-steps", str(memory_steps)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, env=env,
    )
    if proc.returncode:
        raise RuntimeError(f"{name} side failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load"] = (before, os.getloadavg()[0])
    return result


def summarize(steps: list[dict], key: str) -> tuple[float, float, float]:
    """(median, min, max) of one figure over the timed steps."""
    values = [s[key] for s in steps if s.get(key) is not None]
    return statistics.median(values), min(values), max(values)


def merge_rounds(runs: list[dict]) -> dict:
    """One side's rounds as one run: every timed step, the highest peak RSS, the first round's memory figures
    (s2lpo's long run), the load average of each round."""
    return {"steps": [s for r in runs for s in r["steps"]], "rss_timed": max(r["rss_timed"] for r in runs),
            "rss_after": runs[0]["rss_after"],
            "threads": runs[0]["threads"], "loads": [r["load"] for r in runs]}


def report(ours_runs: list[dict], trl_runs: list[dict]) -> dict:
    """Print the comparison of the two sides' rounds; return its figures."""
    ours, trl = merge_rounds(ours_runs), merge_rounds(trl_runs)
    rounds = len(ours_runs)
    print(f"GRPO training step, tiny target, {PROMPTS} prompts x G={G}, <= {MAX_TOKENS} tokens, "
          f"micro-batch {MICRO}, one AdamW update, no KL; torch threads: s2lpo {ours['threads']}, TRL {trl['threads']}")
    print(f"{rounds} rounds x {TIMED} timed steps after {WARMUP} warm-up steps: median [min-max]; phases: median "
          f"seconds; peak RSS after {WARMUP + TIMED} steps")
    print(f"{'':6} {'wall s/step':>19} {'CPU s/step':>19} {'generation':>10} {'grading':>8} {'update':>7} "
          f"{'mean len':>8} {'peak RSS MiB':>12}")
    out: dict = {"name": "training_step_vs_trl", "threads": THREADS, "target": TARGET_RATIO}
    for name, r in (("s2lpo", ours), ("TRL", trl)):
        wall, cpu = summarize(r["steps"], "wall"), summarize(r["steps"], "cpu")
        phases = [summarize(r["steps"], k)[0] for k in PHASES]
        length = summarize(r["steps"], "response_len")[0] if any("response_len" in s for s in r["steps"]) else None
        rss = r["rss_timed"]
        print(f"{name:6} {wall[0]:6.3f} [{wall[1]:.3f}-{wall[2]:.3f}] {cpu[0]:6.3f} [{cpu[1]:.3f}-{cpu[2]:.3f}] "
              f"{phases[0]:10.3f} {phases[1]:8.3f} {phases[2]:7.3f} {'-' if length is None else f'{length:.1f}':>8} "
              f"{rss:12.1f}")
        out[name] = {"wall": wall, "cpu": cpu, "phases": dict(zip(PHASES, phases, strict=True)),
                     "response_len": length, "peak_rss_mib": rss, "loads": r["loads"]}
    ratio = out["s2lpo"]["wall"][0] / out["TRL"]["wall"][0]
    cpu_ratio = out["s2lpo"]["cpu"][0] / out["TRL"]["cpu"][0]
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"ratio s2lpo/TRL median step time: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
          f"({verdict} the <= {TARGET_RATIO}x target)")
    per_round = [summarize(o["steps"], "wall")[0] / summarize(t["steps"], "wall")[0]
                 for o, t in zip(ours_runs, trl_runs, strict=True)]
    print("ratio of each round (wall): " + ", ".join(f"{x:.2f}x" for x in per_round))
    out["round_ratios"] = per_round
    rss = {int(k): v for k, v in ours["rss_after"].items()}
    out["s2lpo_rss_after_steps"] = rss
    if len(rss) > 1:
        first, last = min(rss), max(rss)
        growth = (rss[last] - rss[first]) / rss[first]
        print(f"s2lpo peak RSS after {first} steps {rss[first]:.1f} MiB, after {last} steps {rss[last]:.1f} MiB "
              f"({growth:+.1%})")
        out["rss_growth"] = growth
    for name, r in (("s2lpo", ours), ("TRL", trl)):
        loads = ", ".join(f"{before:.2f} -> {after:.2f}" for before, after in r["loads"])
        print(f"load average (1 min) before -> after, {name} side, each round: {loads}")
    warnings = [f"the load average was {before:.2f} before a {name} side (> {IDLE_LOAD}): not idle"
                for name, r in (("s2lpo", ours), ("TRL", trl)) for before, _ in r["loads"] if before > IDLE_LOAD]
    warnings += [f"the {name} side got {out[name]['cpu'][0] / out[name]['wall'][0]:.0%} of a core per step "
                 f"(CPU/wall): it waited for the CPU" for name in ("s2lpo", "TRL")
                 if out[name]["cpu"][0] < MIN_CPU_SHARE * out[name]["wall"][0] * THREADS]
    for warning in warnings:
        print(f"WARNING: {warning}; the wall times are not idle-machine figures (the CPU ratio is the steadier one)")
    out.update(ratio=ratio, cpu_ratio=cpu_ratio, idle=not warnings)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-steps", type=int, default=MEMORY_STEPS[-1],
                        help="steps the s2lpo side runs in all, for the memory figure (at least the timed ones)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="turns each side takes (alternating order)")
    parser.add_argument("--side", choices=("s2lpo", "trl"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        _side(args.side, args.memory_steps)
        return {}
    runs: dict[str, list[dict]] = {"s2lpo": [], "trl": []}
    for round_index in range(args.rounds):
        for name in ("s2lpo", "trl") if round_index % 2 == 0 else ("trl", "s2lpo"):
            steps = args.memory_steps if name == "s2lpo" and round_index == 0 else WARMUP + TIMED
            runs[name].append(_run_side(name, steps))
    return report(runs["s2lpo"], runs["trl"])


if __name__ == "__main__":
    main()
