"""Pass rates per family at temperature 1 of a tiny pair's base models or of trained checkpoints.

    python scripts/tiny_pass_rates.py tiny_pairs/transfer --task transfer --k 8
    python scripts/tiny_pass_rates.py RUN/final OTHER_RUN/final --task transfer --split heldout --instruction default

A folder holding explorer/ and target/ stands for both models; any other folder is one model. Each
question of each split is sampled k times (one batch of `questions * k`, seed fixed); a sample is right
when its boxed answer is the gold integer. The prompt carries recipes/tiny.yaml's instruction (what RL
prompts with) or, with `--instruction default`, the evaluation's (what validation and `s2lpo eval` ask
with). Prints a markdown table (docs/toy.md holds its output).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from s2lpo_cli.prompting import DEFAULT_INSTRUCTION  # noqa: E402
from s2lpo_cli.tiny import task  # noqa: E402
from s2lpo_cli.tiny.accuracy import accuracy_by_family  # noqa: E402

INSTRUCTIONS = {"tiny": task.TINY_INSTRUCTION, "default": DEFAULT_INSTRUCTION}


def model_dirs(folders: list[Path]) -> list[Path]:
    """Each folder, or its explorer/ and target/ when it holds a pair."""
    return [d for f in folders for d in ([f / "explorer", f / "target"] if (f / "target").is_dir() else [f])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+", help="pair folders (explorer/, target/) or model folders")
    parser.add_argument("--task", default=task.DEFAULT_TASK, choices=list(task.TASKS))
    parser.add_argument("--split", nargs="+", default=list(task.SPLITS), choices=list(task.SPLITS))
    parser.add_argument("--instruction", default="tiny", choices=list(INSTRUCTIONS), help="default: tiny")
    parser.add_argument("--k", type=int, default=8, help="samples per question (default 8)")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (default 1)")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    families = task.TASKS[args.task]
    print(f"| model | split | {' | '.join(families)} | all |\n|---|---|{'---|' * (len(families) + 1)}")
    for folder in model_dirs(args.models):
        model = AutoModelForCausalLM.from_pretrained(folder).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        for split in args.split:
            problems = task.problems(0, split, task=args.task)
            rates = accuracy_by_family(model, tokenizer, problems * args.k, temperature=1.0, seed=args.seed,
                                       instruction=INSTRUCTIONS[args.instruction])
            cells = " | ".join(f"{100 * rates[f]:.1f}" for f in (*families, "all"))
            print(f"| {folder} | {split} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
