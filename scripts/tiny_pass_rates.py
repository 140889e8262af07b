"""Pass rates of a tiny pair's base models per family at temperature 1: what the transfer design rests on.

    python scripts/tiny_pass_rates.py tiny_pairs/transfer --task transfer --k 8

Each question of each split is sampled k times (one batch of `questions * k`, seed fixed); a sample is
right when its boxed answer is the gold integer. Prints a markdown table (docs/toy.md holds its output).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from s2lpo_cli.tiny import task  # noqa: E402
from s2lpo_cli.tiny.accuracy import accuracy_by_family  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pair", type=Path, help="a folder holding explorer/ and target/")
    parser.add_argument("--task", default=task.DEFAULT_TASK, choices=list(task.TASKS))
    parser.add_argument("--k", type=int, default=8, help="samples per question (default 8)")
    parser.add_argument("--seed", type=int, default=1, help="sampling seed (default 1)")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    families = task.TASKS[args.task]
    print(f"| model | split | {' | '.join(families)} | all |\n|---|---|{'---|' * (len(families) + 1)}")
    for name in ("explorer", "target"):
        model = AutoModelForCausalLM.from_pretrained(args.pair / name).eval()
        tokenizer = AutoTokenizer.from_pretrained(args.pair / name)
        for split in task.SPLITS:
            problems = task.problems(0, split, task=args.task)
            rates = accuracy_by_family(model, tokenizer, problems * args.k, temperature=1.0, seed=args.seed)
            cells = " | ".join(f"{100 * rates[f]:.1f}" for f in (*families, "all"))
            print(f"| {name} | {split} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
