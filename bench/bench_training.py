"""One GRPO training step: s2lpo's embedded trainer against TRL's GRPOTrainer doing the same work.

Same tiny Qwen3 target (random weights, so both generate to about the length limit: fixed work), same
prompts, G, response length, batch (one optimizer update over PROMPTS*G responses, micro-batches of MICRO
with gradient accumulation), no KL, the same grader as the reward. Each side runs in its own process with
the same torch thread count (set explicitly, printed). The two processes take turns step by step: a side
computes a step only while the other waits, blocked on a pipe, so a drift in the host's speed (about 10%
within minutes on this machine) falls on both sides alike and neither competes with the other for a core.
WARMUP untimed steps each, then TIMED steps, each timed in wall time and in the process's CPU time
(grading workers excluded on both sides); the median and range are reported, with a per-phase split
(generation, grading, update) and the spread of the ratio between neighbouring steps. The load average
at the start and the CPU time other processes took during the run are printed, with a warning when the
machine was not idle or a side got less CPU than wall time (it waited for a core). Then the s2lpo side
runs alone to MEMORY_STEPS[-1] steps and reports its peak resident memory (VmHWM) after each of
MEMORY_STEPS (flat memory: no growth with steps). Target: s2lpo's median step time <= 0.5x TRL's.

Run: python -m bench.bench_training [--memory-steps 100]   (or via `make bench`)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPTS, G, MAX_TOKENS, MICRO, LR, SEED = 8, 8, 32, 16, 1e-5, 0
THREADS = 1  # torch threads on both sides: the tiny model gains nothing from more
WARMUP, TIMED = 2, 20
MEMORY_STEPS = (10, 100)  # s2lpo's peak RSS is read after these many steps
TARGET_RATIO = 0.5
IDLE_LOAD = 1.0  # a 1-minute load average above this at the start: the machine was not idle
MAX_OTHER_CORES = 0.2  # other processes using more than this many cores on average during the run: not idle
MIN_CPU_SHARE = 0.9  # a side whose CPU time is below this share of its wall time waited for a core
PHASES = ("time_generation_s", "time_grading_s", "time_update_s")
SIDES = ("s2lpo", "trl")


def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: on Linux ru_maxrss carries
    over an exec, so a side started from a large parent (`make bench` runs every benchmark in one process)
    would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


class Turns:
    """Strict alternation between the two sides' processes over named pipes in `folder`: `wait` blocks
    until the other side hands over the turn; `give` hands it over; `finish` leaves it to the other side
    for good. `ready` tells the parent this side has built its model and trainer."""

    def __init__(self, folder: Path, me: str) -> None:
        other = SIDES[1 - SIDES.index(me)]
        self.mine = os.open(folder / me, os.O_RDWR)
        self.others = os.open(folder / other, os.O_RDWR)
        self.folder = folder

    def ready(self) -> None:
        fd = os.open(self.folder / "ready", os.O_RDWR)
        os.write(fd, b"r")
        os.close(fd)

    def wait(self) -> None:
        os.read(self.mine, 1)

    def give(self) -> None:
        os.write(self.others, b"t")

    def finish(self) -> None:
        os.write(self.others, b"t" * 64)  # any wait the other side has left returns at once


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


def run_ours(folder: Path, data: list[dict[str, str]], memory_steps: int, turns: Turns | None = None) -> dict:
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
        if turns:
            turns.ready()
        for i in range(max(WARMUP + TIMED, memory_steps)):
            if turns:
                turns.wait()
            wall, cpu = time.perf_counter(), time.process_time()
            m = trainer.step(i, PhysicalStep(i + 1, "mixed", 0, G))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if turns:
                turns.finish() if i + 1 == WARMUP + TIMED else turns.give()
            if WARMUP <= i < WARMUP + TIMED:
                steps.append({"wall": wall, "cpu": cpu, "response_len": m["response_len"],
                              **{k: m[k] for k in PHASES}})
            if i + 1 == WARMUP + TIMED:
                rss_timed = peak_rss_mib()
            if i + 1 in MEMORY_STEPS or i + 1 == memory_steps:
                rss_after[i + 1] = peak_rss_mib()
    return {"steps": steps, "rss_timed": rss_timed, "rss_after": rss_after}


def run_trl(folder: Path, data: list[dict[str, str]], turns: Turns | None = None) -> dict:
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

        def on_train_begin(self, args, state, control, **kwargs):
            if turns:
                turns.ready()

        def on_step_begin(self, args, state, control, **kwargs):
            if turns:
                turns.wait()
            phase_s.update(dict.fromkeys(PHASES, 0.0))
            self.start = (time.perf_counter(), time.process_time())

        def on_step_end(self, args, state, control, **kwargs):
            wall, cpu = time.perf_counter() - self.start[0], time.process_time() - self.start[1]
            if turns:
                turns.finish() if len(self.steps) + 1 == WARMUP + TIMED else turns.give()
            self.steps.append({"wall": wall, "cpu": cpu,
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


def _side(name: str, memory_steps: int, turns_folder: str | None) -> None:
    """Child process: build the model, run one side, print its figures as JSON on the last line."""
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    turns = Turns(Path(turns_folder), name) if turns_folder else None
    with tempfile.TemporaryDirectory() as tmp:
        data = build_model(Path(tmp))
        if name == "s2lpo":
            result = run_ours(Path(tmp), data, memory_steps, turns)
        else:
            result = run_trl(Path(tmp), data, turns)
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


def _start_side(name: str, memory_steps: int, turns_folder: Path | None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS), "MKL_NUM_THREADS": str(THREADS)}
    command = [sys.executable, "-m", "bench.bench_training", "--side", name, "--memory-steps", str(memory_steps)]
    if turns_folder:
        command += ["--turns", str(turns_folder)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent, env=env)


def _result(name: str, proc: subprocess.Popen) -> dict:
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{name} side failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def _busy_cpu_s() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat: user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_interleaved() -> dict:
    """Both sides at once, taking turns step by step; returns each side's figures and the CPU other
    processes took meanwhile (cores on average)."""
    with tempfile.TemporaryDirectory() as folder:
        turns = Path(folder)
        for pipe in (*SIDES, "ready"):
            os.mkfifo(turns / pipe)
        ready = os.open(turns / "ready", os.O_RDWR)
        first = os.open(turns / SIDES[0], os.O_RDWR)
        wall, busy, children = time.perf_counter(), _busy_cpu_s(), _children_cpu_s()
        procs = {name: _start_side(name, WARMUP + TIMED, turns) for name in SIDES}
        for _ in SIDES:  # both have built their model and trainer: timing starts with the first turn
            if not os.read(ready, 1):
                raise RuntimeError("a side closed the ready pipe")
        os.write(first, b"t")
        results = {name: _result(name, proc) for name, proc in procs.items()}
        wall = time.perf_counter() - wall
        others = (_busy_cpu_s() - busy) - (_children_cpu_s() - children)
        os.close(ready)
        os.close(first)
    return {"sides": results, "other_cores": max(others, 0.0) / wall}


def summarize(steps: list[dict], key: str) -> tuple[float, float, float]:
    """(median, min, max) of one figure over the timed steps."""
    values = [s[key] for s in steps if s.get(key) is not None]
    return statistics.median(values), min(values), max(values)


def report(run: dict, memory: dict, load: tuple[float, float]) -> dict:
    """Print the comparison; return its figures."""
    ours, trl = run["sides"]["s2lpo"], run["sides"]["trl"]
    print(f"GRPO training step, tiny target, {PROMPTS} prompts x G={G}, <= {MAX_TOKENS} tokens, "
          f"micro-batch {MICRO}, one AdamW update, no KL; torch threads: s2lpo {ours['threads']}, TRL {trl['threads']}")
    print(f"the sides take turns step by step; {TIMED} timed steps each after {WARMUP} warm-up steps: median "
          f"[min-max]; phases: median seconds; peak RSS after {WARMUP + TIMED} steps")
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
                     "response_len": length, "peak_rss_mib": rss}
    ratio = out["s2lpo"]["wall"][0] / out["TRL"]["wall"][0]
    cpu_ratio = out["s2lpo"]["cpu"][0] / out["TRL"]["cpu"][0]
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"ratio s2lpo/TRL median step time: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU "
          f"({verdict} the <= {TARGET_RATIO}x target)")
    paired = sorted(a["wall"] / b["wall"] for a, b in zip(ours["steps"], trl["steps"], strict=True))
    print(f"ratio of each s2lpo step to the TRL step it alternated with: median {statistics.median(paired):.2f}x "
          f"[{paired[0]:.2f}-{paired[-1]:.2f}]")
    out["paired_ratio"] = (statistics.median(paired), paired[0], paired[-1])
    rss = {int(k): v for k, v in memory["rss_after"].items()}
    out["s2lpo_rss_after_steps"] = rss
    if len(rss) > 1:
        first, last = min(rss), max(rss)
        growth = (rss[last] - rss[first]) / rss[first]
        print(f"s2lpo alone: peak RSS after {first} steps {rss[first]:.1f} MiB, after {last} steps {rss[last]:.1f} MiB "
              f"({growth:+.1%})")
        out["rss_growth"] = growth
    print(f"load average (1 min) at the start {load[0]:.2f}, at the end of the timed run {load[1]:.2f}; other "
          f"processes used {run['other_cores']:.2f} cores on average during it")
    out.update(load=load, other_cores=run["other_cores"])
    warnings = [f"the load average was {load[0]:.2f} at the start (> {IDLE_LOAD})"] if load[0] > IDLE_LOAD else []
    if run["other_cores"] > MAX_OTHER_CORES:
        warnings.append(f"other processes used {run['other_cores']:.2f} cores during the run (> {MAX_OTHER_CORES})")
    warnings += [f"the {name} side got {out[name]['cpu'][0] / out[name]['wall'][0]:.0%} of a core per step "
                 f"(CPU/wall): it waited for the CPU" for name in ("s2lpo", "TRL")
                 if out[name]["cpu"][0] < MIN_CPU_SHARE * out[name]["wall"][0] * THREADS]
    for warning in warnings:
        print(f"WARNING: {warning}; these are not idle-machine figures")
    out.update(ratio=ratio, cpu_ratio=cpu_ratio, idle=not warnings)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-steps", type=int, default=MEMORY_STEPS[-1],
                        help="steps the s2lpo side runs alone afterwards, for the memory figure")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--turns", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        _side(args.side, args.memory_steps, args.turns)
        return {}
    start_load = os.getloadavg()[0]
    run = run_interleaved()
    load = (start_load, os.getloadavg()[0])
    memory = _result("s2lpo", _start_side("s2lpo", args.memory_steps, None))
    return report(run, memory, load)


if __name__ == "__main__":
    main()
