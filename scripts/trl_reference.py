"""An outside reference for s2lpo's GRPO objective: TRL's GRPOTrainer on the same model, task and settings.

Both sides train the tiny target of a tiny-models folder (`s2lpo tiny init DIR`: DIR/target,
DIR/data/train.jsonl) for the same number of steps with the settings of the GRPO baseline of
recipes/tiny.yaml: G=8, 16 prompts per step (one optimizer update per step over 128 responses, micro-batches
with gradient accumulation), lr 1e-4 constant, AdamW with weight decay 0.01, grad clip 1.0, no KL, clip
epsilon 0.2, token-mean loss over the batch (TRL's "dapo"), std-normalised group advantages, temperature 1,
no top-k/top-p, at most 32 response tokens, one PPO iteration per step. The prompt is the recipe's chat
rendering (asserted to give TRL the same token ids as s2lpo), the reward is s2lpo's grader. The two sides
run one after the other, each with one torch thread; this script compares their training-reward curves.

    python scripts/trl_reference.py --tiny tiny_models --steps 100 --out trl_reference
    python scripts/trl_reference.py --tiny tiny_models --s2lpo-run runs/grpo --out trl_reference  # reuse a run

Outputs in OUT: trl_metrics.jsonl (TRL's per-step reward_mean, zero_var_frac, entropy), s2lpo_run/ (the
s2lpo run, unless --s2lpo-run), trl_vs_s2lpo_reward.png; the block table goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

G, PROMPTS, MICRO, LR, MAX_TOKENS = 8, 16, 16, 1e-4, 32
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def read_rows(tiny: Path) -> list[dict]:
    lines = (tiny / "data" / "train.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def prompt_messages(rows: list[dict]) -> tuple[list[list[dict]], bool]:
    """Each row's chat messages as recipes/tiny.yaml builds them, and the recipe's enable_thinking."""
    from s2lpo_cli.prompting import build_messages
    from s2lpo_cli.recipe import load_recipe

    prompt = load_recipe("tiny", []).data.prompt
    return [build_messages(r["question"], prompt.instruction, prompt.system) for r in rows], prompt.enable_thinking


def check_prompt_ids(tokenizer, messages: list[list[dict]], enable_thinking: bool) -> None:
    """TRL tokenizes conversational prompts with one batched `apply_chat_template(tokenize=True)` call; its
    ids must equal s2lpo's (render the template to text, then tokenize without added special tokens)."""
    from s2lpo_cli.prompting import encode_prompt

    trl_ids = tokenizer.apply_chat_template(conversation=messages, add_generation_prompt=True, tokenize=True,
                                            return_dict=True, enable_thinking=enable_thinking)["input_ids"]
    ours = [encode_prompt(tokenizer, m, enable_thinking) for m in messages]
    bad = [i for i, (a, b) in enumerate(zip(trl_ids, ours, strict=True)) if list(a) != b]
    assert not bad, f"{len(bad)} prompts tokenize differently in TRL and s2lpo (first: row {bad[0]})"
    print(f"prompt token ids: TRL's rendering equals s2lpo's for all {len(ours)} training prompts", file=sys.stderr)


def run_trl(tiny: Path, steps: int, seed: int, out: Path) -> Path:
    """TRL's GRPOTrainer for `steps` optimizer steps; its per-step metrics go to OUT/trl_metrics.jsonl."""
    import tempfile

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from s2lpo_cli.grading.grader import Grader

    torch.set_num_threads(1)
    rows = read_rows(tiny)
    messages, enable_thinking = prompt_messages(rows)
    tokenizer = AutoTokenizer.from_pretrained(tiny / "target")
    check_prompt_ids(tokenizer, messages, enable_thinking)
    model = AutoModelForCausalLM.from_pretrained(tiny / "target", dtype=torch.float32)
    dataset = Dataset.from_list([{"prompt": m, "answer": r["answer"]} for m, r in zip(messages, rows, strict=True)])
    path = out / "trl_metrics.jsonl"
    path.write_text("")

    class Record(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "reward" in logs:
                row = {"step": state.global_step, "reward_mean": logs["reward"],
                       "zero_var_frac": logs.get("frac_reward_zero_std"), "entropy": logs.get("entropy")}
                with path.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(f"TRL step {row['step']}: reward {row['reward_mean']:.3f}", file=sys.stderr, flush=True)

    with Grader() as grader, tempfile.TemporaryDirectory() as scratch:

        def reward(completions, answer, **_):
            texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
            return [1.0 if g.correct else 0.0 for g in grader.grade(list(zip(texts, answer, strict=True)))]

        args = GRPOConfig(
            output_dir=scratch, use_cpu=True, bf16=False, seed=seed, max_steps=steps,
            learning_rate=LR, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.01, max_grad_norm=1.0,
            optim="adamw_torch", beta=0.0, epsilon=0.2, loss_type="dapo", scale_rewards="group", num_iterations=1,
            num_generations=G, per_device_train_batch_size=MICRO, gradient_accumulation_steps=PROMPTS * G // MICRO,
            max_completion_length=MAX_TOKENS, temperature=1.0, top_k=0, top_p=1.0,
            chat_template_kwargs={"enable_thinking": enable_thinking},
            logging_steps=1, report_to="none", save_strategy="no", dataloader_num_workers=0, disable_tqdm=True,
        )
        trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset,
                              processing_class=tokenizer, callbacks=[Record()])
        trainer.train()
    return path


def run_s2lpo(tiny: Path, steps: int, seed: int, run_dir: Path) -> Path:
    """s2lpo's own GRPO baseline through its CLI, same settings; returns the run folder (the CLI prints it:
    `--baseline` adds `_grpo` to output.run_dir)."""
    sets = [f"models.target={tiny / 'target'}", f"data.train={tiny / 'data' / 'train.jsonl'}", f"optim.lr={LR}",
            f"optim.prompts_per_step={PROMPTS}", f"optim.mini_batch={PROMPTS}", f"rollout.group_size={G}",
            f"schedule.total_steps={steps}", "schedule.anneal_steps=0", f"optim.seed={seed}",
            f"output.run_dir={run_dir}"]
    cmd = [sys.executable, "-m", "s2lpo_cli.cli.app", "train", str(REPO / "recipes" / "tiny.yaml"), "--baseline"]
    for s in sets:
        cmd += ["--set", s]
    print("$ s2lpo " + " ".join(cmd[3:]), file=sys.stderr, flush=True)
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, check=True, env=env, stdout=subprocess.PIPE, text=True)
    return Path(proc.stdout.strip().splitlines()[-1])


def read_curve(path: Path) -> dict[int, float]:
    """step -> reward_mean of a metrics JSONL file (the last row of a step wins)."""
    curve = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("reward_mean") is not None:
                curve[int(row["step"])] = float(row["reward_mean"])
    return curve


def rolling(values: list[float], window: int = 10) -> list[float]:
    return [sum(values[max(0, i - window + 1): i + 1]) / len(values[max(0, i - window + 1): i + 1])
            for i in range(len(values))]


def plot(curves: dict[str, dict[int, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, curve), color in zip(curves.items(), ("tab:blue", "tab:orange"), strict=False):
        steps = sorted(curve)
        values = [curve[s] for s in steps]
        ax.plot(steps, values, color=color, alpha=0.25, linewidth=1)
        ax.plot(steps, rolling(values), color=color, linewidth=2, label=f"{name} (rolling mean of 10)")
    ax.set(xlabel="optimizer step", ylabel="training reward (mean over 128 responses)",
           title="GRPO on the tiny target: TRL vs s2lpo")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def table(curves: dict[str, dict[int, float]], block: int) -> str:
    """Markdown table: mean training reward per block of `block` steps, one column per side."""
    last = max(max(c) for c in curves.values())
    lines = ["| steps | " + " | ".join(curves) + " |", "|---" * (len(curves) + 1) + "|"]
    for start in range(1, last + 1, block):
        cells = []
        for curve in curves.values():
            vals = [v for s, v in curve.items() if start <= s < start + block]
            cells.append(f"{sum(vals) / len(vals):.3f}" if vals else "—")
        lines.append(f"| {start}–{min(start + block - 1, last)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", type=Path, required=True, help="tiny-models folder (target/, data/train.jsonl)")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps for each side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("trl_reference"))
    parser.add_argument("--s2lpo-run", type=Path, help="an existing s2lpo GRPO run folder to compare with")
    parser.add_argument("--skip-trl", action="store_true", help="reuse OUT/trl_metrics.jsonl")
    args = parser.parse_args()
    tiny, out = args.tiny.resolve(), args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    if not args.skip_trl:
        start = time.perf_counter()
        run_trl(tiny, args.steps, args.seed, out)
        timings["TRL"] = time.perf_counter() - start
    run = args.s2lpo_run
    if run is None:
        start = time.perf_counter()
        run = run_s2lpo(tiny, args.steps, args.seed, out / "s2lpo_run")
        timings["s2lpo"] = time.perf_counter() - start
    from s2lpo_cli.run_folder import RunFolder

    curves = {"TRL GRPOTrainer": read_curve(out / "trl_metrics.jsonl"),
              "s2lpo GRPO": read_curve(RunFolder(run).metrics_path)}
    plot(curves, out / "trl_vs_s2lpo_reward.png")
    for block in (10, 25):
        print(f"\nmean training reward per {block}-step block\n" + table(curves, block))
    for name, secs in timings.items():
        print(f"{name} wall time: {secs:.0f} s")
    print(f"plot: {out / 'trl_vs_s2lpo_reward.png'}")


if __name__ == "__main__":
    main()
