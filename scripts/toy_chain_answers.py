"""What a run's held-out chain answers are: the worked `-` step the explorer writes, a `+` step, or neither.

    python scripts/toy_chain_answers.py /work/rt_full/transfer runs/seed0 runs/seed0_grpo --steps 0 40 100

Reads each run's validation samples (validation/step_NNNN/heldout/heldout_raw.jsonl) and counts, over the
held-out `a + b - c` questions, the samples whose second step subtracts (`5+8=13, 13-2=11`), those whose
second step adds (what a target warmed up on `a + b + c` writes), and the right answers with and without
the subtracting step.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

CHAIN = re.compile(r"What is \d+ \+ \d+ - \d+\?")
MINUS_STEP, PLUS_STEP = re.compile(r", *\d+-\d+="), re.compile(r", *\d+\+\d+=")
BOXED = re.compile(r"\\boxed\{(-?\d+)\}")


def count(raw: Path) -> dict[str, int]:
    counts = dict.fromkeys(("samples", "right", "minus_step", "minus_step_right", "plus_step"), 0)
    for line in raw.open():
        row = json.loads(line)
        if not CHAIN.fullmatch(row["question"]):
            continue
        for response in row["responses"]:
            boxed = BOXED.search(response["text"])
            right = bool(boxed) and boxed[1] == row["answer"]
            minus = bool(MINUS_STEP.search(response["text"]))
            counts["samples"] += 1
            counts["right"] += right
            counts["minus_step"] += minus
            counts["minus_step_right"] += minus and right
            counts["plus_step"] += bool(PLUS_STEP.search(response["text"]))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="a reproduce_toy transfer folder")
    parser.add_argument("runs", nargs="+", help="run folders under WORK")
    parser.add_argument("--steps", type=int, nargs="+", default=[0, 40, 100], help="validated steps")
    args = parser.parse_args()
    print("| run | step | samples | right | second step `-` | of those right | second step `+` |")
    print("|---|---|---|---|---|---|---|")
    for run in args.runs:
        for step in args.steps:
            c = count(args.work / run / "validation" / f"step_{step:04d}" / "heldout" / "heldout_raw.jsonl")
            print(f"| {run} | {step} | {c['samples']} | {c['right']} | {c['minus_step']} | "
                  f"{c['minus_step_right']} | {c['plus_step']} |")


if __name__ == "__main__":
    main()
