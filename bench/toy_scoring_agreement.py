"""Do the toy's validation during training and its former checkpoint scoring measure the same accuracy?

For each model folder, held-out accuracy (mean over k samples per question at temperature 1) three ways,
each over several seeds:
  scoring      what scripts/reproduce_toy.py did before it read validation: Hugging Face `generate` over
               all prompts with one torch seed, the tiny task's instruction, exact match of the boxed integer;
  scoring+eval the same with `s2lpo eval`'s instruction (the prompt validation uses);
  validation   `s2lpo eval` with the toy's validation settings (what a val.jsonl row equals, docs/validation.md):
               per-question seeds, the project's grader.
The seeds differ between the ways, so the means should agree within the seed-to-seed spread.

    python bench/toy_scoring_agreement.py WORK tiny_models/target runs/seed0_grpo/checkpoints/step_0004
(WORK holds tiny_models/data/heldout.jsonl; model folders are relative to WORK.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def scoring(model_dir: Path, heldout: list[dict[str, str]], k: int, seed: int, instruction: str) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from s2lpo_cli.tiny.accuracy import is_correct, sample_responses

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    responses = sample_responses(model, tokenizer, [r["question"] for r in heldout] * k, temperature=1.0, seed=seed,
                                 batch_size=256, instruction=instruction)
    return sum(is_correct(text, heldout[i % len(heldout)]["answer"]) for i, text in enumerate(responses)) / len(responses)


def validation(model_dir: Path, heldout_file: Path, k: int, seed: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "s2lpo_cli.cli.app", "eval", "--model", str(model_dir),
                        "--benchmark-file", str(heldout_file), "--k", str(k), "--seed", str(seed), "--mode", "nothink",
                        "--temperature", "1", "--top-p", "1", "--top-k", "-1", "--presence-penalty", "0",
                        "--max-tokens", "32", "--engine", "embedded", "--device", "cpu", "--output", out],
                       check=True, capture_output=True)
        summary = json.loads(next(Path(out).rglob("summary.json")).read_text())
    return summary["benchmarks"][heldout_file.stem]["pass@1"]


def main() -> None:
    from s2lpo_cli.prompting import DEFAULT_INSTRUCTION
    from s2lpo_cli.tiny.task import TINY_INSTRUCTION

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("work", type=Path)
    p.add_argument("models", nargs="+")
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--seeds", type=int, default=4)
    args = p.parse_args()
    heldout_file = args.work / "tiny_models" / "data" / "heldout.jsonl"
    heldout = [json.loads(line) for line in heldout_file.read_text().splitlines() if line]
    scoring_seeds = [1234, *range(1, args.seeds)]  # 1234: the seed the checkpoint scoring used
    print("| model | scoring | scoring+eval | validation |\n|---|---|---|---|")
    for name in args.models:
        model_dir = args.work / name
        ways = [[scoring(model_dir, heldout, args.k, s, TINY_INSTRUCTION) for s in scoring_seeds],
                [scoring(model_dir, heldout, args.k, s, DEFAULT_INSTRUCTION) for s in scoring_seeds],
                [validation(model_dir, heldout_file, args.k, s) for s in range(args.seeds)]]
        cells = [f"{100 * statistics.fmean(v):.1f} ± {100 * statistics.stdev(v):.1f}" for v in ways]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
