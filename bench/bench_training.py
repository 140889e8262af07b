"""One GRPO training step: s2lpo's embedded trainer against TRL's GRPOTrainer doing the same work.

Same tiny Qwen3 target (random weights, so both generate to the length limit: fixed work), same prompts,
G, response length, batch (one optimizer update over PROMPTS*G responses, micro-batches of MICRO with
gradient accumulation), no KL, the same grader as the reward. Each side runs in its own process: two
steps, the second one timed (the first pays one-off warm-up costs); peak memory is the resident set
sampled during the timed step, above what the process held before it. Target: s2lpo <= 0.5x TRL.

Run: python -m bench.bench_training   (or via `make bench`)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROMPTS, G, MAX_TOKENS, MICRO, LR, SEED = 8, 8, 32, 16, 1e-5, 0
TARGET_RATIO = 0.5


class PeakRSS:
    """Samples this process's resident memory every few milliseconds."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self.page

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.002)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def step_mib(self) -> float:
        return (self.peak - self.start) / 2**20


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


def run_ours(folder: Path, data: list[dict[str, str]]) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from s2lpo_cli.data.rows import Row
    from s2lpo_cli.grading.grader import Grader
    from s2lpo_cli.recipe import load_recipe
    from s2lpo_cli.schedule import PhysicalStep
    from s2lpo_cli.training.run import render_prompts
    from s2lpo_cli.training.trainer import Trainer

    recipe = load_recipe("tiny", [
        f"models.target={folder}", "schedule.anneal_steps=0", f"optim.prompts_per_step={PROMPTS}",
        f"optim.mini_batch={PROMPTS}", f"optim.micro_batch={MICRO}", f"rollout.group_size={G}",
        f"rollout.max_response_tokens={MAX_TOKENS}", f"optim.lr={LR}", "optim.kl.enabled=false",
        f"optim.seed={SEED}",
    ])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = [Row(id=r["id"], question=r["question"], answer=r["answer"]) for r in data]
    prompts = render_prompts(recipe, tokenizer, rows, [])
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    with Grader() as grader:
        trainer = Trainer(recipe, model, tokenizer, prompts, grader)
        trainer.step(0, PhysicalStep(1, "mixed", 0, G))
        with PeakRSS() as mem:
            start = time.perf_counter()
            m = trainer.step(1, PhysicalStep(2, "mixed", 0, G))
            elapsed = time.perf_counter() - start
    return {"step_s": elapsed, "peak_step_mib": mem.step_mib, "peak_rss_mib": mem.peak / 2**20,
            "response_len": m["response_len"]}


def run_trl(folder: Path, data: list[dict[str, str]]) -> dict:
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

    def reward(completions, answer, **_):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [1.0 if g.correct else 0.0 for g in grader.grade(list(zip(texts, answer, strict=True)))]

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []
            self.mem: PeakRSS | None = None

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())
            if len(self.ends) == 1:
                self.mem = PeakRSS().__enter__()
            elif self.mem is not None and len(self.ends) == 2:
                self.mem.__exit__(None, None, None)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:
                lengths.append(logs["completions/mean_length"])

    clock = Clock()
    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out, use_cpu=True, max_steps=2, learning_rate=LR, beta=0.0, num_generations=G,
            per_device_train_batch_size=MICRO, gradient_accumulation_steps=PROMPTS * G // MICRO,
            max_completion_length=MAX_TOKENS, temperature=1.0, top_k=0, loss_type="dapo", logging_steps=1,
            report_to="none", save_strategy="no", seed=SEED, bf16=False, dataloader_num_workers=0,
            disable_tqdm=True,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset,
                              processing_class=tokenizer, callbacks=[clock])
        trainer.train()
    grader.__exit__(None, None, None)
    return {"step_s": clock.ends[1] - clock.ends[0], "peak_step_mib": clock.mem.step_mib,
            "peak_rss_mib": clock.mem.peak / 2**20, "response_len": lengths[-1] if lengths else None}


def _side(name: str) -> None:
    """Child process: build the model, run one side, print its figures as JSON on the last line."""
    import torch

    torch.manual_seed(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        data = build_model(Path(tmp))
        result = (run_ours if name == "s2lpo" else run_trl)(Path(tmp), data)
    print(json.dumps(result))


def _run_side(name: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.bench_training", "--side", name], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode:
        raise RuntimeError(f"{name} side failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> dict:
    ours = _run_side("s2lpo")
    trl = _run_side("trl")
    ratio = ours["step_s"] / trl["step_s"]
    print(f"GRPO training step, tiny target, {PROMPTS} prompts x G={G}, <= {MAX_TOKENS} tokens, micro-batch {MICRO}")
    print(f"{'':8} {'step s':>8} {'peak MiB (step)':>16} {'peak RSS MiB':>13} {'mean len':>9}")
    for name, r in (("s2lpo", ours), ("TRL", trl)):
        length = "-" if r["response_len"] is None else f"{r['response_len']:.1f}"
        print(f"{name:8} {r['step_s']:8.2f} {r['peak_step_mib']:16.1f} {r['peak_rss_mib']:13.1f} {length:>9}")
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"ratio s2lpo/TRL step time: {ratio:.2f}x ({verdict} the <= {TARGET_RATIO}x target)")
    return {"name": "training_step_vs_trl", "ratio": ratio, "target": TARGET_RATIO, "s2lpo": ours, "trl": trl}


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--side":
        _side(sys.argv[2])
    else:
        main()
